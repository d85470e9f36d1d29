import Codecs

/// A DRF throttle rate: `N/s`, `N/m`, `N/h`, `N/d` (DRF reads only the period's first
/// letter, so `100/minute` is accepted too).
package struct ThrottleRate: Sendable, Equatable, CustomStringConvertible {
    package let requests: Int
    package let periodSeconds: Int

    package init(requests: Int, periodSeconds: Int) {
        self.requests = requests
        self.periodSeconds = periodSeconds
    }

    package static func parse(_ text: String) -> ThrottleRate? {
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

    package var description: String {
        let unit = [1: "s", 60: "m", 3600: "h", 86400: "d"][periodSeconds] ?? "s"
        return "\(requests)/\(unit)"
    }
}
