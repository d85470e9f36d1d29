import Codecs

/// A span of time given in configuration: `86400`, `90s`, `30m`, `12h`, `7d`.
package struct DurationSpec: Sendable, Equatable, CustomStringConvertible {
    package let seconds: Int64

    package init(seconds: Int64) { self.seconds = seconds }

    /// Parses a positive duration. A bare number is seconds.
    package static func parse(_ text: String) -> DurationSpec? {
        let t = text.trimmingASCIIWhitespace()
        guard let last = t.last else { return nil }
        let unit: Int64
        var digits = Substring(t)
        switch last {
        case "s":
            unit = 1
            digits = digits.dropLast()
        case "m":
            unit = 60
            digits = digits.dropLast()
        case "h":
            unit = 3600
            digits = digits.dropLast()
        case "d":
            unit = 86400
            digits = digits.dropLast()
        default: unit = 1
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let n = Int64(digits), n > 0,
            n <= Int64.max / unit / 1000
        else { return nil }
        return DurationSpec(seconds: n * unit)
    }

    /// The shortest exact form: `7d`, `12h`, `30m`, `45s`.
    package var description: String {
        if seconds % 86400 == 0 { return "\(seconds / 86400)d" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
