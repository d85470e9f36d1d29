import Codecs

/// The text forms Django's serializers (`manage.py dumpdata`) write, read back for
/// `durinctl import django`.
package enum DjangoFormats {
    /// A `DateTimeField` as `DjangoJSONEncoder` writes it: ISO 8601,
    /// `2026-11-29T13:42:30.500Z` (milliseconds), or `...:30Z`, `...:30.500333+02:00`,
    /// a space for the `T`, or no offset at all. Fractions finer than a millisecond are
    /// cut (as the encoder cuts them). A time without an offset (`USE_TZ = False`) is
    /// read as UTC.
    package static func dateTime(_ text: String) -> EpochMillis? {
        var s = Substring(text)
        func number(_ width: Int) -> Int? {
            guard s.count >= width else { return nil }
            let digits = s.prefix(width)
            guard digits.allSatisfy(\.isASCIIDigit), let n = Int(digits) else { return nil }
            s = s.dropFirst(width)
            return n
        }
        func take(_ c: Character) -> Bool {
            guard s.first == c else { return false }
            s = s.dropFirst()
            return true
        }
        guard let year = number(4), take("-"), let month = number(2), take("-"), let day = number(2),
            take("T") || take(" "), let hour = number(2), take(":"), let minute = number(2)
        else { return nil }
        var second = 0
        var millis = 0
        if take(":") {
            guard let sec = number(2) else { return nil }
            second = sec
            if take(".") || take(",") {
                let fraction = s.prefix { $0.isASCIIDigit }
                guard (1...9).contains(fraction.count) else { return nil }
                millis = Int(fraction.prefix(3).padding(toLength: 3))!
                s = s.dropFirst(fraction.count)
            }
        }
        var offsetSeconds = 0
        if take("Z") || take("z") {
        } else if let sign = s.first, sign == "+" || sign == "-" {
            s = s.dropFirst()
            guard let h = number(2) else { return nil }
            _ = take(":")
            guard let m = number(2), h < 24, m < 60 else { return nil }
            offsetSeconds = (h * 3600 + m * 60) * (sign == "-" ? -1 : 1)
        }
        guard s.isEmpty, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour < 24, minute < 60, second < 60
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return seconds * 1000 + Int64(millis)
    }

    /// A `DurationField` in whole seconds (fractions cut). Accepts what `dumpdata`
    /// writes (Django's `duration_string`: `[D ]HH:MM:SS[.ffffff]`, e.g. `1 00:00:00`),
    /// Python's `str(timedelta)` (`2 days, 3:04:05`), and plain seconds (`86400`,
    /// `86400.5`). nil for anything else, and for durations under one second.
    package static func durationSeconds(_ text: String) -> Int64? {
        let t = text.trimmingASCIIWhitespace()
        if let plain = decimalSeconds(Substring(t)) { return plain >= 1 ? plain : nil }
        var days: Int64 = 0
        var clock = Substring(t)
        if let space = t.firstIndex(of: " ") {
            // "D HH:MM:SS" or "D day[s], H:MM:SS"
            guard let d = Int64(t[..<space]), d >= 0 else { return nil }
            days = d
            var rest = t[t.index(after: space)...]
            for word in ["days,", "day,"] where rest.hasPrefix(word) {
                rest = rest.dropFirst(word.count)
                break
            }
            clock = Substring(rest.trimmingASCIIWhitespace())
        }
        let parts = clock.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let h = Int64(parts[0]), let m = Int64(parts[1]), (0..<24).contains(h), (0..<60).contains(m),
            parts[0].allSatisfy(\.isASCIIDigit), parts[1].count == 2, parts[1].allSatisfy(\.isASCIIDigit),
            let s = decimalSeconds(parts[2]), s < 60, parts[2].prefix(while: \.isASCIIDigit).count == 2,
            days <= 100_000_000
        else { return nil }
        let total = days * 86400 + h * 3600 + m * 60 + s
        return total >= 1 ? total : nil
    }

    /// `123` or `123.456` as whole seconds; nil for other text.
    private static func decimalSeconds(_ text: Substring) -> Int64? {
        let pieces = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = pieces.first, !whole.isEmpty, whole.count <= 15, whole.allSatisfy(\.isASCIIDigit) else { return nil }
        if pieces.count == 2 { guard !pieces[1].isEmpty, pieces[1].allSatisfy(\.isASCIIDigit) else { return nil } }
        return Int64(whole)
    }

    private static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}

extension Substring {
    fileprivate func padding(toLength n: Int) -> String {
        count >= n ? String(self) : String(self) + String(repeating: "0", count: n - count)
    }
}
