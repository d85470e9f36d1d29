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
        var t = time_t(seconds)
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
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

    private func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
