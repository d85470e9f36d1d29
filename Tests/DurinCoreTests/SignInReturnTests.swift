import Codecs
import DurinCore
import XCTest

/// The sign-in page's way back is only ever a path of this site.
final class SignInReturnTests: XCTestCase {
    func testOnlyLocalPathsAreKept() {
        for local in ["/", "/app/page", "/app/page?x=1&y=%2F#top", "/a:b", "/é"] {
            XCTAssertEqual(SignInReturn.destination(local), local)
        }
        for foreign in [
            "https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example", "evil.example", "",
            "/app\r\nLocation: x", "/app\u{0}", "/a\\b", "javascript:alert(1)", " /app", String(repeating: "/a", count: 1025),
        ] {
            XCTAssertEqual(SignInReturn.destination(foreign), "/", foreign.debugDescription)
        }
        XCTAssertEqual(SignInReturn.destination(nil), "/")
    }

    func testPercentEncodingKeepsOnlyUnreservedCharacters() {
        XCTAssertEqual(PercentEncoding.encode("/app/page?x=1&y=%2F"), "%2Fapp%2Fpage%3Fx%3D1%26y%3D%252F")
        XCTAssertEqual(PercentEncoding.encode("a-b_c.d~é"), "a-b_c.d~%C3%A9")
        XCTAssertEqual(
            String(decoding: PercentEncoding.decode(Array(PercentEncoding.encode("/x y+z").utf8), plusIsSpace: true), as: UTF8.self),
            "/x y+z")
    }
}
