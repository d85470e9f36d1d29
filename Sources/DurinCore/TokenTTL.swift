/// A span of time given in configuration: `86400`, `90s`, `30m`, `12h`, `7d`.
public struct DurationSpec: Sendable, Equatable, CustomStringConvertible {
    public let seconds: Int64

    public init(seconds: Int64) { self.seconds = seconds }

    /// Parses a positive duration. A bare number is seconds.
    public static func parse(_ text: String) -> DurationSpec? {
        let t = text.trimmingASCIIWhitespace()
        guard let last = t.last else { return nil }
        let unit: Int64
        var digits = Substring(t)
        switch last {
        case "s": unit = 1; digits = digits.dropLast()
        case "m": unit = 60; digits = digits.dropLast()
        case "h": unit = 3600; digits = digits.dropLast()
        case "d": unit = 86400; digits = digits.dropLast()
        default: unit = 1
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let n = Int64(digits), n > 0,
              n <= Int64.max / unit / 1000 else { return nil }
        return DurationSpec(seconds: n * unit)
    }

    /// The shortest exact form: `7d`, `12h`, `30m`, `45s`.
    public var description: String {
        if seconds % 86400 == 0 { return "\(seconds / 86400)d" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

/// How long a client's tokens live: a duration, or `never` (tokens without expiry).
public enum TokenTTL: Sendable, Equatable, CustomStringConvertible {
    case seconds(Int64)
    case never

    public static func parse(_ text: String) -> TokenTTL? {
        if text.trimmingASCIIWhitespace().lowercased() == "never" { return .never }
        return DurationSpec.parse(text).map { .seconds($0.seconds) }
    }

    /// The form stored in Redis (`token_ttl` field): seconds, or `never`.
    public var storedValue: String {
        switch self {
        case .seconds(let s): return String(s)
        case .never: return "never"
        }
    }

    public var description: String {
        switch self {
        case .seconds(let s): return DurationSpec(seconds: s).description
        case .never: return "never"
        }
    }
}

/// A DRF throttle rate: `N/s`, `N/m`, `N/h`, `N/d` (DRF reads only the period's first
/// letter, so `100/minute` is accepted too).
public struct ThrottleRate: Sendable, Equatable, CustomStringConvertible {
    public let requests: Int
    public let periodSeconds: Int

    public init(requests: Int, periodSeconds: Int) {
        self.requests = requests
        self.periodSeconds = periodSeconds
    }

    public static func parse(_ text: String) -> ThrottleRate? {
        let parts = text.trimmingASCIIWhitespace().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = Int(parts[0]), n > 0, let p = parts[1].first else { return nil }
        let period: Int
        switch p {
        case "s": period = 1
        case "m": period = 60
        case "h": period = 3600
        case "d": period = 86400
        default: return nil
        }
        return ThrottleRate(requests: n, periodSeconds: period)
    }

    public var description: String {
        let unit = [1: "s", 60: "m", 3600: "h", 86400: "d"][periodSeconds] ?? "s"
        return "\(requests)/\(unit)"
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension StringProtocol {
    /// Trims spaces, tabs and line breaks (configuration values, header parts).
    public func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}
