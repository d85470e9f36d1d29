import Foundation
import XCTest

/// A client's own X-Durin-* headers reach no upstream, whatever the location does
/// (nested locations with their own proxy_set_header, FastCGI upstreams), and the
/// client's token reaches an upstream only where the location opts in.
final class NginxHeaderTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
        // Locations a site might add, beside the example's: a nested location that
        // sets its own proxy headers (dropping the inherited ones), a FastCGI
        // upstream without durin's params, a location that forwards the token, and
        // an upstream that shows every header it gets.
        let extra = """
                location /api/nested/ {
                    include \(stack.state)/nginx/durin/durin-protect.conf;
                    proxy_pass http://unix:\(stack.state)/echo.sock;
                    location /api/nested/deeper/ {
                        proxy_set_header X-Extra yes;
                        proxy_pass http://unix:\(stack.state)/echo.sock;
                    }
                }
                location /api/fcgi/ {
                    include \(stack.state)/nginx/durin/durin-protect.conf;
                    fastcgi_param REQUEST_METHOD GET;
                    fastcgi_param PATH_INFO /ready/;
                    fastcgi_pass durin;
                }
                location /api/echo/ {
                    include \(stack.state)/nginx/durin/durin-protect.conf;
                    proxy_pass http://unix:\(stack.state)/echo.sock;
                }
                location /api/echo-forward/ {
                    set $durin_forward_token on;
                    include \(stack.state)/nginx/durin/durin-protect.conf;
                    proxy_pass http://unix:\(stack.state)/echo.sock;
                }
            """
        let echo = """
            server {
                listen unix:\(stack.state)/echo.sock;
                default_type application/json;
                location / {
                    return 200 '{"user":"$http_x_durin_user","client":"$http_x_durin_client","expiry":"$http_x_durin_expiry","authorization":"$http_authorization"}';
                }
            }
            """
        let site = "\(stack.state)/nginx/site.conf"
        var text = try String(contentsOfFile: site, encoding: .utf8)
        text =
            text.replacingOccurrences(
                of: "    server_name localhost 127.0.0.1;\n", with: "    server_name localhost 127.0.0.1;\n\(extra)\n") + "\n" + echo + "\n"
        try text.write(toFile: site, atomically: true, encoding: .utf8)
        try stack.reloadNginx()
        XCTAssertEqual(try stack.http.call("GET", "/api/echo/").status, 401, "the extra locations are loaded")
    }

    func testForgedIdentityHeadersAreRefusedEverywhere() throws {
        let token = try stack.login("alice", "alice-pw", client: "web")
        for path in ["/api/ping/", "/api/echo/", "/api/nested/", "/api/nested/deeper/", "/api/fcgi/", "/api/auth/verify/"] {
            for header in ["X-Durin-User", "x-durin-client", "X-DURIN-EXPIRY"] {
                let r = try http.call("GET", path, token: token, extra: [(header, "admin")])
                XCTAssertEqual(r.status, 400, "\(path) with \(header): \(r.text)")
                XCTAssertEqual(r.detail, "X-Durin-* headers are set by durin, never by a client.")
                XCTAssertFalse(r.text.contains("admin"), "\(path): \(r.text)")
            }
            // "0" is a value too (nginx's `if ($var)` would take it for false).
            XCTAssertEqual(try http.call("GET", path, token: token, extra: [("X-Durin-User", "0")]).status, 400, path)
        }
        // Without forged headers the same locations work, with durin's identity.
        let r = try http.call("GET", "/api/echo/", token: token)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.object["user"] as? String, "alice")
        XCTAssertEqual(r.object["client"] as? String, "web")
        let expiry = try XCTUnwrap(try http.call("GET", "/api/auth/verify/", token: token).header("X-Durin-Expiry"))
        XCTAssertEqual(r.object["expiry"] as? String, expiry, "X-Durin-Expiry is durin's too")
        // The nested location dropped durin's headers, but the client could not fill them.
        let nested = try http.call("GET", "/api/nested/deeper/", token: token)
        XCTAssertEqual(nested.status, 200)
        XCTAssertEqual(nested.object["user"] as? String, "")
    }

    /// nginx before 1.23 (Debian 12 ships 1.22) keeps only a header's first line in
    /// $http_x_durin_user: an empty first line and a forged second pass the
    /// server-level rule, and nginx passes both lines on to a nested location's
    /// upstream. durin's check sees every line of every X-Durin-* header and refuses.
    func testAForgedLineAfterAnEmptyOneIsRefused() throws {
        let token = try stack.login("alice", "alice-pw", client: "web")
        for path in ["/api/ping/", "/api/echo/", "/api/nested/", "/api/nested/deeper/", "/api/fcgi/"] {
            for header in ["X-Durin-User", "X-Durin-Client", "X-Durin-Expiry", "X-Durin-Role"] {
                for lines in [[(header, ""), (header, "admin")], [(header, "")], [(header, "admin")]] {
                    let r = try http.call("GET", path, token: token, extra: lines)
                    XCTAssertEqual(r.status, 400, "\(path) with \(lines): \(r.text)")
                    XCTAssertEqual(r.detail, "X-Durin-* headers are set by durin, never by a client.", "\(path) with \(lines)")
                }
            }
        }
        // Without a token the answer is still the refusal, not a 401 that would
        // tell the forger which part failed; a good token alone passes.
        XCTAssertEqual(try http.call("GET", "/api/nested/deeper/", extra: [("X-Durin-User", ""), ("X-Durin-User", "admin")]).status, 400)
        XCTAssertEqual(try http.call("GET", "/api/nested/deeper/", token: token).status, 200)
    }

    /// What nginx refuses before any location runs is answered in durin's JSON, not
    /// nginx's HTML page: a header over its buffers, a request line over them, a
    /// request it cannot read.
    func testNginxsOwnRefusalsAreJSON() throws {
        let long = String(repeating: "a", count: 9000)
        var r = try http.request("GET", "/api/ping/", headers: [("Authorization", Array("Token \(long)".utf8))])
        XCTAssertEqual(r.status, 431)
        XCTAssertEqual(r.text, #"{"detail":"Request header too large."}"#)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        r = try http.request("GET", "/api/auth/\(long)/")
        XCTAssertEqual(r.status, 414)
        XCTAssertEqual(r.text, #"{"detail":"Request URI too long."}"#)
        r = try http.request("GET", "/api/ping/", headers: [("Host", Array("second.example".utf8))])
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.text, #"{"detail":"Bad request."}"#)
        // durin's own 400s keep their bodies.
        r = try http.call("POST", "/api/auth/login/", json: "{")
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(r.detail?.hasPrefix("JSON parse error") == true, r.text)
        XCTAssertEqual(try http.request("GET", "/_durin/431").status, 404, "the handlers are internal")
    }

    func testTheTokenReachesTheUpstreamOnlyWhereTheLocationOptsIn() throws {
        let token = try stack.login("alice", "alice-pw", client: "web")
        let plain = try http.call("GET", "/api/echo/", token: token)
        XCTAssertEqual(plain.status, 200)
        XCTAssertEqual(plain.object["authorization"] as? String, "", "not forwarded by default")
        let forwarded = try http.call("GET", "/api/echo-forward/", token: token)
        XCTAssertEqual(forwarded.status, 200)
        XCTAssertEqual(forwarded.object["authorization"] as? String, "Token \(token)")
        XCTAssertEqual(forwarded.object["user"] as? String, "alice")
        XCTAssertEqual(try http.call("GET", "/api/echo-forward/").status, 401, "opting in forwards, it does not open")
    }
}
