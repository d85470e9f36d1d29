import DurinCore
import DurinHTTP
import XCTest

@testable import DurinServer

/// DurinServer's API: durin's client lookup, and denials reshaped for nginx's auth_request.
final class APITests: XCTestCase {
    func testClientNameLikeDurin() {
        for falsy: JSONValue? in [nil, .null, "", .bool(false), .number("0"), [], [:]] {
            XCTAssertThrowsError(try API.clientName(falsy)) { XCTAssertEqual($0 as? APIError, .noClientSpecified) }
        }
        for unknown: JSONValue in [.bool(true), ["web"], "we b", "a:b"] {
            XCTAssertThrowsError(try API.clientName(unknown)) { XCTAssertEqual($0 as? APIError, .noClientWithName) }
        }
        XCTAssertEqual(try API.clientName("web"), "web")
    }

    func testAuthRequestModeKeepsDenialsWithinWhatNginxPasses() {
        let throttled = API.forAuthRequest(APIError.throttled(waitSeconds: 3).response(authPrefix: "Token"))
        XCTAssertEqual(throttled.status, 403)
        XCTAssertEqual(throttled.headers.first { $0.0 == "X-Durin-Status" }?.1, "429")
        XCTAssertEqual(throttled.headers.first { $0.0 == "Retry-After" }?.1, "3")
        let unauthorized = API.forAuthRequest(APIError.tokenExpired.response(authPrefix: "Token"))
        XCTAssertEqual(unauthorized.status, 401)
        XCTAssertEqual(unauthorized.headers.first { $0.0 == "X-Durin-Error" }?.1, #"{"detail":"The given token has expired."}"#)
    }
}
