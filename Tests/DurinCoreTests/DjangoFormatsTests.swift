import Glibc
import XCTest

@testable import DurinCore

/// What `manage.py dumpdata` writes for DurationField and DateTimeField, read back.
final class DjangoFormatsTests: XCTestCase {
    func testDurations() {
        // Django's duration_string, as dumpdata writes it.
        XCTAssertEqual(DjangoFormats.durationSeconds("1 00:00:00"), 86400)
        XCTAssertEqual(DjangoFormats.durationSeconds("2 03:04:05"), 183_845)
        XCTAssertEqual(DjangoFormats.durationSeconds("01:00:00"), 3600)
        XCTAssertEqual(DjangoFormats.durationSeconds("00:00:01.500000"), 1, "fractions are cut")
        XCTAssertEqual(DjangoFormats.durationSeconds("365 00:00:00"), 31_536_000)
        // Python's str(timedelta), and plain seconds.
        XCTAssertEqual(DjangoFormats.durationSeconds("2 days, 3:04:05"), 183_845)
        XCTAssertEqual(DjangoFormats.durationSeconds("1 day, 0:00:00"), 86400)
        XCTAssertEqual(DjangoFormats.durationSeconds("86400"), 86400)
        XCTAssertEqual(DjangoFormats.durationSeconds("90.25"), 90)
        for bad in ["", "0", "00:00:00", "00:00:00.5", "-1 23:00:00", "1 25:00:00", "1:2:3", "1d", "a day", "12:60:00", "x 01:00:00"] {
            XCTAssertNil(DjangoFormats.durationSeconds(bad), bad)
        }
    }

    func testDateTimes() {
        // DjangoJSONEncoder: milliseconds and Z (what dumpdata writes with USE_TZ = True).
        XCTAssertEqual(DjangoFormats.dateTime("2026-11-30T02:55:55.275Z"), 1_796_007_355_275)
        XCTAssertEqual(DjangoFormats.dateTime("2026-11-30T02:55:55Z"), 1_796_007_355_000)
        XCTAssertEqual(DjangoFormats.dateTime("2026-11-30T02:55:55.275999Z"), 1_796_007_355_275, "cut, not rounded")
        XCTAssertEqual(DjangoFormats.dateTime("2026-11-30T04:55:55.275+02:00"), 1_796_007_355_275)
        XCTAssertEqual(DjangoFormats.dateTime("2026-11-30T00:25:55.275-0230"), 1_796_007_355_275)
        XCTAssertEqual(DjangoFormats.dateTime("2026-11-30 02:55:55.275"), 1_796_007_355_275, "no offset: UTC")
        XCTAssertEqual(DjangoFormats.dateTime("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(DjangoFormats.dateTime("2024-02-29T12:00Z"), 1_709_208_000_000)
        for bad in [
            "", "2026-11-30", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-30T24:00:00Z",
            "2026-11-30T02:55:55.Z", "2026-11-30T02:55:55Zjunk", "20261130T025555Z",
        ] {
            XCTAssertNil(DjangoFormats.dateTime(bad), bad)
        }
        // Round trip with the expiry format durin answers with.
        XCTAssertEqual(ExpiryFormat().format(DjangoFormats.dateTime("2026-11-30T02:55:55.275Z")!), "2026-11-30T02:55:55.275000Z")
    }

    /// The calendar arithmetic that replaces gmtime_r gives every field gmtime_r gives,
    /// across leap days, centuries, negative times and far years.
    func testUTCCalendarMatchesGmtime() {
        var samples: [Int64] = [0, -1, 86_399, 86_400, 951_782_400, 951_868_799, 4_107_542_400, -2_208_988_800, 253_402_300_799]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { samples.append(Int64.random(in: -62_135_596_800...253_402_300_799, using: &rng)) }
        for seconds in samples {
            var t = time_t(seconds)
            var expected = tm()
            gmtime_r(&t, &expected)
            let got = ExpiryFormat.utc(seconds)
            XCTAssertEqual(
                [got.tm_year, got.tm_mon, got.tm_mday, got.tm_hour, got.tm_min, got.tm_sec, got.tm_wday, got.tm_yday],
                [
                    expected.tm_year, expected.tm_mon, expected.tm_mday, expected.tm_hour, expected.tm_min, expected.tm_sec,
                    expected.tm_wday, expected.tm_yday,
                ], "\(seconds)")
        }
        XCTAssertEqual(ExpiryFormat(pattern: "%Y %Z").format(0), "1970 GMT")
    }
}
