import Foundation
import XCTest

/// RFC 7662 introspection and RFC 7009 revocation through nginx, by issuers, and
/// RFC 6750 Bearer alongside durin's Token scheme.
final class StandardsTests: SharedStackTestCase {
    override class var settings: [String: String] {
        ["DURIN_AUTH_HEADER_PREFIX": "Token Bearer", "DURIN_INTROSPECTION_RATE": "20/m"]
    }

    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addClient("mobile")
        try stack.addUser("rita", password: "rita-pw")
        try stack.addUser("sam", password: "sam-pw")
    }

    private func issuer(_ name: String, clients: String? = nil) throws -> String {
        try stack.durinctl(["issuer", "add", name] + (clients.map { ["--clients", $0] } ?? [])).checked()
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func post(_ route: String, form: String, key: String?) throws -> HTTPResult {
        try http.call("POST", "/api/auth/\(route)/", form: form, extra: key.map { [("Authorization", "Issuer \($0)")] } ?? [])
    }

    func testIntrospectionAnswersForLiveTokensOfTheIssuersClientsOnly() throws {
        let gateway = try issuer("gateway")
        let mobileOnly = try issuer("mobile-gw", clients: "mobile")
        let web = try stack.login("rita", "rita-pw", client: "web")
        let mobile = try stack.login("rita", "rita-pw", client: "mobile")

        var r = try post("introspect", form: "token=\(web)&token_type_hint=access_token", key: gateway)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.header("Cache-Control"), "no-store")
        let o = r.object
        XCTAssertEqual(o["active"] as? Bool, true)
        XCTAssertEqual(o["username"] as? String, "rita")
        XCTAssertEqual(o["sub"] as? String, "rita")
        XCTAssertEqual(o["client_id"] as? String, "web")
        XCTAssertEqual(o["token_type"] as? String, "Token")
        let now = Date().timeIntervalSince1970
        let iat = try XCTUnwrap(o["iat"] as? Double)
        let exp = try XCTUnwrap(o["exp"] as? Double)
        XCTAssertEqual(iat, now, accuracy: 60)
        XCTAssertEqual(exp - iat, 86400, accuracy: 2, "the client's TTL")

        // Everything that is not a live token of the issuer's clients looks alike.
        func inactive(_ form: String, key: String, _ why: String) throws {
            let r = try post("introspect", form: form, key: key)
            XCTAssertEqual(r.status, 200, why)
            XCTAssertEqual(r.text, #"{"active":false}"#, why)
        }
        try inactive("token=\(web)", key: mobileOnly, "another client's token")
        XCTAssertEqual(try post("introspect", form: "token=\(mobile)", key: mobileOnly).object["active"] as? Bool, true)
        try inactive("token=0000", key: gateway, "unknown")
        try inactive("token=%FF%00%C3%28", key: gateway, "malformed bytes")
        try inactive("token=" + String(repeating: "x", count: 5000), key: gateway, "oversized")
        XCTAssertEqual(try http.call("POST", "/api/auth/logout/", token: mobile).status, 204)
        try inactive("token=\(mobile)", key: gateway, "revoked")
        let sams = try stack.login("sam", "sam-pw", client: "web")
        try stack.durinctl(["user", "deactivate", "sam"]).checked()
        try inactive("token=\(sams)", key: gateway, "an inactive user's")

        // JSON and multipart bodies work as the form does.
        r = try http.call("POST", "/api/auth/introspect/", json: #"{"token":"\#(web)"}"#, extra: [("Authorization", "Issuer \(gateway)")])
        XCTAssertEqual(r.object["active"] as? Bool, true)

        // OAuth client authentication: the issuer's name as client_id.
        let basic = Data("gateway:\(gateway)".utf8).base64EncodedString()
        r = try http.call("POST", "/api/auth/introspect/", form: "token=\(web)", extra: [("Authorization", "Basic \(basic)")])
        XCTAssertEqual(r.object["active"] as? Bool, true, r.text)
        r = try http.call("POST", "/api/auth/introspect/", form: "token=\(web)&client_id=gateway&client_secret=\(gateway)")
        XCTAssertEqual(r.object["active"] as? Bool, true, r.text)
        let wrongName = Data("mobile-gw:\(gateway)".utf8).base64EncodedString()
        r = try http.call("POST", "/api/auth/introspect/", form: "token=\(web)", extra: [("Authorization", "Basic \(wrongName)")])
        XCTAssertEqual(r.status, 401, "a name that is not the key's")

        // Callers must authenticate (RFC 7662 §2.1).
        for extra: [(String, String)] in [
            [], [("Authorization", "Issuer " + String(repeating: "0", count: 64))],
            [("Authorization", "Token \(web)")], [("Authorization", "Bearer \(web)")],
        ] {
            r = try http.call("POST", "/api/auth/introspect/", form: "token=\(web)", extra: extra)
            XCTAssertEqual(r.status, 401, "\(extra)")
            XCTAssertEqual(r.text, #"{"error":"invalid_client"}"#)
            XCTAssertEqual(r.headers("WWW-Authenticate"), ["Issuer", #"Basic realm="durin""#])
        }
        r = try post("introspect", form: "token_type_hint=access_token", key: gateway)
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.object["error"] as? String, "invalid_request")
        XCTAssertEqual(try http.call("GET", "/api/auth/introspect/").status, 405)
    }

    func testRevocationIsLimitedToTheIssuersClientsAndNamesTheIssuer() throws {
        let sso = try issuer("sso", clients: "web")
        let web = try stack.login("rita", "rita-pw", client: "web")
        let mobile = try stack.login("rita", "rita-pw", client: "mobile")

        var r = try post("revoke", form: "token=\(mobile)&token_type_hint=access_token", key: sso)
        XCTAssertEqual(r.status, 200, "another client's token: 200, and nothing done")
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: mobile).status, 200)
        r = try post("revoke", form: "token=\(web)", key: sso)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "{}")
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: web).status, 401)
        XCTAssertEqual(try post("revoke", form: "token=\(web)", key: sso).status, 200, "already gone: 200 as well")
        XCTAssertEqual(try post("revoke", form: "token=nonsense", key: sso).status, 200)
        XCTAssertEqual(try post("revoke", form: "token=\(mobile)", key: nil).status, 401)

        // The back-channel logout: every token of the user, within the issuer's clients.
        _ = try stack.login("rita", "rita-pw", client: "web")
        r = try post("revoke", form: "username=rita", key: sso)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.text, #"{"revoked":1}"#)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: mobile).status, 200, "the mobile token is not the issuer's")
        XCTAssertEqual(try post("revoke", form: "username=nobody", key: sso).text, #"{"revoked":0}"#)
        XCTAssertEqual(try post("revoke", form: "", key: sso).status, 400)

        let events = try stack.durinctl(["events", "--last", "20", "--json"]).checked()
        let revocations = events.split(separator: "\n").filter { $0.contains(#""reason":"revoke""#) }
        XCTAssertEqual(revocations.count, 2, events)
        XCTAssertTrue(revocations.allSatisfy { $0.contains(#""issuer":"sso""#) }, events)
    }

    func testEachIssuerIsThrottledOnItsOwn() throws {
        let busy = try issuer("busy")
        let quiet = try issuer("quiet")
        let counted = #"durin_requests_total{route="introspect",status="429"}"#
        let before = try stack.metric(counted) ?? 0
        var last: HTTPResult?
        for _ in 0..<21 { last = try post("introspect", form: "token=x", key: busy) }
        let r = try XCTUnwrap(last)
        XCTAssertEqual(r.status, 429)
        XCTAssertNotNil(r.header("Retry-After").flatMap(Int.init))
        XCTAssertEqual(try post("revoke", form: "token=x", key: busy).status, 429, "revoke/ counts against the same limit")
        XCTAssertEqual(try post("introspect", form: "token=x", key: quiet).status, 200, "another issuer is not slowed")
        XCTAssertEqual(try stack.redisCLI("EXISTS", stack.keys.issuerCalls("busy")), "1", "the window's key")
        XCTAssertEqual(try stack.metric(counted), before + 1, "each call is counted by route and status")
    }

    func testBearerIsAcceptedAndChallengedAsRFC6750Says() throws {
        let token = try stack.login("rita", "rita-pw", client: "web")
        // Both schemes work, directly and through a protected location.
        XCTAssertEqual(try http.call("GET", "/api/ping/", extra: [("Authorization", "Bearer \(token)")]).status, 200)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 200)
        XCTAssertEqual(try http.call("GET", "/api/auth/sessions/", extra: [("Authorization", "bearer \(token)")]).status, 200)

        // A 401 names every scheme; Bearer's says what was wrong.
        var r = try http.call("GET", "/api/auth/sessions/")
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.headers("WWW-Authenticate"), ["Token", "Bearer"])
        r = try http.call("GET", "/api/auth/sessions/", extra: [("Authorization", "Bearer nope")])
        XCTAssertEqual(r.detail, "Invalid token.")
        XCTAssertEqual(r.headers("WWW-Authenticate"), ["Token", #"Bearer error="invalid_token", error_description="Invalid token.""#])
        r = try http.call("GET", "/api/auth/sessions/", extra: [("Authorization", "Bearer")])
        XCTAssertEqual(
            r.headers("WWW-Authenticate").last,
            #"Bearer error="invalid_request", error_description="Invalid token header. No credentials provided.""#)

        // Through auth_request (nginx 1.22 keeps one header): one header, both challenges.
        r = try http.call("GET", "/api/ping/", extra: [("Authorization", "Bearer nope")])
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.text, #"{"detail":"Invalid token."}"#)
        XCTAssertEqual(r.headers("WWW-Authenticate"), [#"Token, Bearer error="invalid_token", error_description="Invalid token.""#])
        r = try http.call("GET", "/api/ping/")
        XCTAssertEqual(r.headers("WWW-Authenticate"), ["Token, Bearer"])
    }
}
