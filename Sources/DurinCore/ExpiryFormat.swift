import Glibc

/// A moment as milliseconds since the Unix epoch: the unit Redis's PEXPIREAT uses,
/// and the `expiry`/`created` fields of a token hash.
package typealias EpochMillis = Int64

/// Renders expiry times the way durin does.
///
/// Default: DRF's `DateTimeField` output, Python's `isoformat()` in UTC with `Z`:
/// `2026-11-30T02:55:55.275449Z`, and no fraction when the microseconds are zero.
/// With `DURIN_EXPIRY_DATETIME_FORMAT`: a strftime pattern (`%f` is microseconds, as in Python).
package struct ExpiryFormat: Sendable, Equatable {
    package let pattern: String?

    package init(pattern: String? = nil) {
        self.pattern = (pattern?.isEmpty ?? true) ? nil : pattern
    }

    package func format(_ millis: EpochMillis) -> String {
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let micros = Int((millis - seconds * 1000) * 1000)
        var tm = Self.utc(seconds)
        guard let pattern else {
            // Every response with an expiry formats one: digits into one buffer.
            var out: [UInt8] = []
            out.reserveCapacity(27)
            func digits(_ v: Int, _ width: Int) {
                var divisor = 1
                for _ in 1..<width { divisor *= 10 }
                var v = v
                if v >= divisor * 10 {
                    out.append(contentsOf: String(v).utf8)
                    return
                }  // a year past 9999
                while divisor > 0 {
                    out.append(UInt8(ascii: "0") + UInt8(v / divisor))
                    v %= divisor
                    divisor /= 10
                }
            }
            digits(Int(tm.tm_year) + 1900, 4)
            out.append(UInt8(ascii: "-"))
            digits(Int(tm.tm_mon) + 1, 2)
            out.append(UInt8(ascii: "-"))
            digits(Int(tm.tm_mday), 2)
            out.append(UInt8(ascii: "T"))
            digits(Int(tm.tm_hour), 2)
            out.append(UInt8(ascii: ":"))
            digits(Int(tm.tm_min), 2)
            out.append(UInt8(ascii: ":"))
            digits(Int(tm.tm_sec), 2)
            if micros != 0 {
                out.append(UInt8(ascii: "."))
                digits(micros, 6)
            }
            out.append(UInt8(ascii: "Z"))
            return String(decoding: out, as: UTF8.self)
        }
        // strftime has no %f; substitute it first (and keep %% intact).
        var expanded = ""
        var it = pattern.makeIterator()
        while let c = it.next() {
            if c == "%", let n = it.next() {
                if n == "f" { expanded += pad(micros, 6) } else { expanded += "%\(n)" }
            } else {
                expanded.append(c)
            }
        }
        var buffer = [CChar](repeating: 0, count: 256)
        let n = strftime(&buffer, buffer.count, expanded, &tm)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The UTC calendar time of `seconds` since the epoch, as gmtime_r gives it (the
    /// fields strftime reads), computed here: gmtime_r takes glibc's time-zone lock,
    /// which every verify/ answer would contend for. Days to a civil date by Howard
    /// Hinnant's algorithm (proleptic Gregorian, any year).
    static func utc(_ seconds: Int64) -> Glibc.tm {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int32(seconds - days * 86_400)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        var tm = Glibc.tm()
        tm.tm_year = Int32(year - 1900)
        tm.tm_mon = Int32(month - 1)
        tm.tm_mday = Int32(day)
        tm.tm_hour = secondOfDay / 3600
        tm.tm_min = secondOfDay % 3600 / 60
        tm.tm_sec = secondOfDay % 60
        // 1970-01-01 was a Thursday.
        tm.tm_wday = Int32(((days % 7) + 11) % 7)
        tm.tm_yday = Int32(Self.monthStarts[Int(month - 1)] + day - 1 + (leap && month > 2 ? 1 : 0))
        tm.tm_zone = Self.gmt
        return tm
    }

    private static let monthStarts: [Int64] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
    /// What gmtime_r names the zone (strftime's %Z), for the life of the process.
    private nonisolated(unsafe) static let gmt = UnsafePointer(strdup("GMT")!)

    private func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
