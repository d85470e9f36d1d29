import DurinServer
import XCTest

final class RouteTests: XCTestCase {
    func testRoutesWithAndWithoutTrailingSlash() {
        XCTAssertEqual(Route.match("/login/"), .login)
        XCTAssertEqual(Route.match("/login"), .login)
        XCTAssertEqual(Route.match("/logoutall/"), .logoutAll)
        XCTAssertEqual(Route.match("/verify"), .verify)
        XCTAssertNil(Route.match("/login//x"))
        XCTAssertNil(Route.match("/nope/"))
        XCTAssertNil(Route.match(""))
    }
}
