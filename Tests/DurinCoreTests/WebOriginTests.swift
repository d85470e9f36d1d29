import DurinCore
import XCTest

/// Origins as the console compares them: whole, normalised, and nothing a second name can hide in.
final class WebOriginTests: XCTestCase {
    func testOriginsCompareAsAWhole() {
        XCTAssertEqual(WebOrigin("https://Admin.Example.com"), WebOrigin("https://admin.example.com:443/"))
        XCTAssertEqual(WebOrigin("http://127.0.0.1"), WebOrigin(scheme: "http", authority: "127.0.0.1:80"))
        XCTAssertNotEqual(WebOrigin("http://127.0.0.1"), WebOrigin(scheme: "http", authority: "127.0.0.1:8080"))
        XCTAssertNotEqual(WebOrigin("https://admin.example.com"), WebOrigin("http://admin.example.com"))
        XCTAssertEqual(WebOrigin("http://[::1]:8080")?.description, "http://[::1]:8080")
        XCTAssertEqual(WebOrigin("https://admin.example.com:443")?.description, "https://admin.example.com")
    }

    func testAnythingButAnOriginIsRefused() {
        for text in [
            "", "null", "admin.example.com", "ftp://x", "https://", "https://a/b", "https://user@a", "https://a:0",
            "https://a:99999", "https://a:8o", "https://a b", "https://a\u{0}.b", "https://[::1", "https://a.example.com#x",
        ] {
            XCTAssertNil(WebOrigin(text), text)
        }
        XCTAssertNil(WebOrigin(scheme: "http", authority: "evil.example\u{0}127.0.0.1"))
    }

    func testLoopbackNames() {
        for text in ["http://127.0.0.1", "http://127.1.2.3:8080", "http://localhost", "http://[::1]"] {
            XCTAssertEqual(WebOrigin(text)?.isLoopback, true, text)
        }
        for text in ["http://127.0.0.1.evil.example", "http://localhost.evil.example", "http://10.0.0.1", "http://rebind.example"] {
            XCTAssertEqual(WebOrigin(text)?.isLoopback, false, text)
        }
    }
}
