import Codecs

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
