import Codecs

/// How long a client's tokens live: a duration, or `never` (tokens without expiry).
package enum TokenTTL: Sendable, Equatable, CustomStringConvertible {
    case seconds(Int64)
    case never

    package static func parse(_ text: String) -> TokenTTL? {
        if text.trimmingASCIIWhitespace().lowercased() == "never" { return .never }
        return DurationSpec.parse(text).map { .seconds($0.seconds) }
    }

    /// The form stored in Redis (`token_ttl` field): seconds, or `never`.
    package var storedValue: String {
        switch self {
        case .seconds(let s): return String(s)
        case .never: return "never"
        }
    }

    package var description: String {
        switch self {
        case .seconds(let s): return DurationSpec(seconds: s).description
        case .never: return "never"
        }
    }
}
