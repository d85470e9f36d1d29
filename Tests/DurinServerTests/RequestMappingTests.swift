import DurinCore
import DurinHTTP
import DurinServer
import XCTest

/// FastCGI params as a worker reads them, from a dictionary: what the mapping
/// refuses before reading anything else, and the request it builds.
struct Params: RequestParams {
    var values: [String: String]

    init(_ values: [String: String]) { self.values = values }

    func param(_ param: Param) -> String? { values[param.name] }
    func paramBytes(_ param: Param) -> [UInt8]? { values[param.name].map { Array($0.utf8) } }
    func param(_ param: Param, is value: String) -> Bool { values[param.name] == value }
    func paramIsOn(_ param: Param) -> Bool {
        guard let v = values[param.name]?.lowercased() else { return false }
        return ["on", "1", "true", "yes"].contains(v)
    }
    func hasParam(prefixed prefix: String) -> Bool { values.keys.contains { $0.hasPrefix(prefix) } }
}

final class RequestMappingTests: XCTestCase {
    let key = Array("k3y-of-nginx".utf8)

    func params(_ extra: [String: String] = [:]) -> Params {
        Params(["DURIN_PROXY_KEY": "k3y-of-nginx", "REQUEST_METHOD": "GET", "PATH_INFO": "/verify/"].merging(extra) { $1 })
    }

    func testOnlyNginxsRequestsAreRead() {
        XCTAssertEqual(RequestMapping.admit(Params([:]), proxyKey: key), .refused(.notFromProxy, reshapeForAuthRequest: false))
        XCTAssertEqual(
            RequestMapping.admit(params(["DURIN_PROXY_KEY": "k3y-of-nginX"]), proxyKey: key),
            .refused(.notFromProxy, reshapeForAuthRequest: false))
        XCTAssertEqual(
            RequestMapping.admit(params(), proxyKey: nil), .refused(.notFromProxy, reshapeForAuthRequest: false),
            "no key configured: nothing is answered")
        XCTAssertEqual(RequestMapping.admit(params(), proxyKey: key), .admitted(contentLength: 0))
        XCTAssertEqual(RequestMapping.admit(params(["CONTENT_LENGTH": "12"]), proxyKey: key), .admitted(contentLength: 12))
        XCTAssertEqual(RequestMapping.admit(params(["CONTENT_LENGTH": "-5"]), proxyKey: key), .admitted(contentLength: 0))
    }

    /// A client's own X-Durin-* header on a gateway's check never reaches an upstream.
    func testAChecksForgedIdentityHeadersAreRefused() {
        XCTAssertEqual(
            RequestMapping.admit(params(["DURIN_AUTH_REQUEST": "1", "HTTP_X_DURIN_USER": "root"]), proxyKey: key),
            .refused(.forgedIdentityHeaders, reshapeForAuthRequest: true))
        XCTAssertEqual(
            RequestMapping.admit(params(["DURIN_FORWARD_AUTH": "1", "HTTP_X_DURIN_CLIENT": ""]), proxyKey: key),
            .refused(.forgedIdentityHeaders, reshapeForAuthRequest: false), "an empty one too")
        XCTAssertEqual(
            RequestMapping.admit(params(["HTTP_X_DURIN_USER": "root"]), proxyKey: key), .admitted(contentLength: 0),
            "an API call is no check: nothing it sends is passed on")
        XCTAssertEqual(
            RequestMapping.admit(params(["DURIN_FORWARD_AUTH": "1", "CONTENT_LENGTH": "99"]), proxyKey: key),
            .admitted(contentLength: 0), "Caddy's check reads no body")
    }

    func testTheRequestAndItsDirectives() {
        let request = RequestMapping.request(
            params([
                "REQUEST_METHOD": "POST", "PATH_INFO": "/login/", "SCRIPT_NAME": "/api/auth", "CONTENT_TYPE": "application/json",
                "HTTP_AUTHORIZATION": "Token abc", "REMOTE_ADDR": "192.0.2.7", "HTTP_USER_AGENT": "curl/8",
                "DURIN_ALLOW_CLIENTS": "web, mobile\tcli", "DURIN_DENY_CLIENTS": "tv", "DURIN_THROTTLE": "YES",
                "DURIN_CACHE": "off", "DURIN_TRUSTED": "yes", "DURIN_METRICS": "1", "HTTP_COOKIE": "durin_console=x",
            ]), body: Array("{}".utf8))
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/login/")
        XCTAssertEqual(request.mountPrefix, "/api/auth")
        XCTAssertEqual(request.authorization, Array("Token abc".utf8))
        XCTAssertEqual(request.userAgent, "curl/8")
        XCTAssertEqual(request.body, Array("{}".utf8))
        XCTAssertEqual(request.directives.allowClients, ["web", "mobile", "cli"])
        XCTAssertEqual(request.directives.denyClients, ["tv"])
        XCTAssertTrue(request.directives.throttle)
        XCTAssertFalse(request.directives.cache)
        XCTAssertFalse(request.directives.trusted, "DURIN_TRUSTED is 1 or nothing")
        XCTAssertTrue(request.directives.metrics)
        XCTAssertNil(request.browser, "only a browser's location reads cookies")

        let check = RequestMapping.request(params(["HTTP_USER_AGENT": "curl/8"]), body: [])
        XCTAssertEqual(check.userAgent, "curl/8", "a check may have to name it in a token_reused event")

        let console = RequestMapping.request(
            params([
                "DURIN_CONSOLE": "1", "HTTP_COOKIE": "durin_console=x", "HTTP_ORIGIN": "http://127.0.0.1",
                "HTTP_SEC_FETCH_SITE": "same-origin",
                "HTTP_HOST": "127.0.0.1", "REQUEST_SCHEME": "https", "QUERY_STRING": "prefix=a", "HTTP_X_CSRF_TOKEN": "t",
            ]), body: [])
        XCTAssertEqual(console.location, .console)
        XCTAssertEqual(console.browser?.cookie, "durin_console=x")
        XCTAssertEqual(console.browser?.scheme, "https")
        XCTAssertEqual(console.browser?.query, "prefix=a")
        XCTAssertEqual(console.browser?.csrf, "t")
    }

    func testRequestIDAndTraceparentAreCheckedBeforeAnyLogLine() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let good = RequestMapping.request(
            params([
                "DURIN_REQUEST_ID": "0af7651916cd43dd8448eb211c80319c",
                "HTTP_TRACEPARENT": "00-\(trace)-00f067aa0ba902b7-01",
            ]), body: [])
        XCTAssertEqual(good.requestID, "0af7651916cd43dd8448eb211c80319c")
        XCTAssertEqual(good.traceparent.flatMap(TraceContext.traceID), trace)
        for bad in ["", "a b", "x\ninjected=1", String(repeating: "a", count: 65), "é"] {
            XCTAssertNil(TraceContext.requestID(bad), bad.debugDescription)
        }
        for bad in [
            "00-\(String(repeating: "0", count: 32))-00f067aa0ba902b7-01", "00-\(trace)-0000000000000000-01",
            "ff-\(trace)-00f067aa0ba902b7-01", "00-\(trace.uppercased())-00f067aa0ba902b7-01",
            "00-\(trace)-00f067aa0ba902b7-01 x", "00-\(trace)-00f067aa0ba902b7",
        ] {
            XCTAssertNil(TraceContext.traceparent(bad), bad)
        }
    }
}
