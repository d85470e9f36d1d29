import XCTest

@testable import DurinHTTP

final class MultipartTests: XCTestCase {
    /// The body `curl -F username=alice -F 'password=p w' -F client=web` sends.
    func testTextFieldsAsCurlSendsThem() throws {
        let body =
            "--------------------------abc123\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n"
            + "--------------------------abc123\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\np w\r\n"
            + "--------------------------abc123\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nignored\r\n"
            + "--------------------------abc123\r\nContent-Disposition: form-data; name=\"client\"\r\n\r\nweb\r\n"
            + "--------------------------abc123--\r\n"
        let data = try RequestData.decode(
            contentType: "multipart/form-data; boundary=------------------------abc123", body: Array(body.utf8))
        XCTAssertEqual(data, .fields(["username": "alice", "password": "p w", "client": "web"]))
    }

    func testMissingBoundaryIsDRFsError() {
        XCTAssertThrowsError(try RequestData.decode(contentType: "multipart/form-data", body: [1])) {
            XCTAssertEqual(($0 as? APIError)?.detail, "Multipart form parse error - Invalid boundary in multipart: None")
        }
    }
}
