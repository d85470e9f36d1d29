/// python humanize's `naturaldelta` (4.x, months on), which durin uses for
/// `expires_in_str`. It rounds (a day less a moment is "a day") with Python's
/// round-half-to-even, on a timedelta's whole days and leftover seconds.
package enum Humanize {
    package static func naturalDelta(milliseconds: Int64) -> String {
        let ms = abs(milliseconds)
        let totalDays = ms / 86_400_000
        let seconds = Int((ms % 86_400_000) / 1000)
        let years = totalDays / 365
        let days = totalDays % 365
        let months = pyRound(Double(days) / 30.5)

        if years == 0 && days < 1 {
            switch seconds {
            case 0: return "a moment"
            case 1: return "a second"
            case 2..<60: return "\(seconds) seconds"
            case 60..<3600:
                let minutes = pyRound(Double(seconds) / 60)
                return minutes == 1 ? "a minute" : minutes == 60 ? "an hour" : "\(minutes) minutes"
            default:
                let hours = pyRound(Double(seconds) / 3600)
                return hours == 1 ? "an hour" : hours == 24 ? "a day" : "\(hours) hours"
            }
        }
        if years == 0 {
            if days == 1 { return "a day" }
            switch months {
            case 0: return "\(days) days"
            case 1: return "a month"
            case 12: return "a year"
            default: return "\(months) months"
            }
        }
        if years == 1 {
            if months == 0 && days == 0 { return "a year" }
            if months == 0 { return days == 1 ? "1 year, 1 day" : "1 year, \(days) days" }
            if months == 1 { return "1 year, 1 month" }
            if months == 12 { return "2 years" }
            return "1 year, \(months) months"
        }
        let roundedYears = pyRound(Double(totalDays) / 365)
        return roundedYears == 1 ? "1 year" : "\(groupedThousands(roundedYears)) years"
    }

    /// Python's round(): halves go to the even neighbour.
    static func pyRound(_ x: Double) -> Int { Int(x.rounded(.toNearestOrEven)) }

    /// humanize formats the year count with intcomma.
    private static func groupedThousands(_ n: Int) -> String {
        var digits = Array(String(n))
        var out: [Character] = []
        while digits.count > 3 {
            out = [","] + digits.suffix(3) + out
            digits.removeLast(3)
        }
        return String(digits + out)
    }
}
