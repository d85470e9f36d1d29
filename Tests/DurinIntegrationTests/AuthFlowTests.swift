import Crypto
import DurinTestSupport
import Foundation
import XCTest

/// durin's login / refresh / logout / logoutall and the verify route, end to end
/// through nginx, durin-fcgi and redis-server, with durin 1.1's exact answers.
final class AuthFlowTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        for c in ["web", "cli", "mobile"] { try stack.addClient(c) }
        try stack.addClient("short", ttl: "2s")
        try stack.addUser("alice", password: "alice-pw", extra: ["--field", "email=alice@example.com"])
        try stack.addUser("bob", password: " spaced pw ")
        try stack.addUser("carol", password: "carol-pw")
        try stack.addUser("Alice", password: "other-pw")
    }

    func login(_ body: String, form: Bool = false, path: String = "/api/auth/login/") throws -> HTTPResult {
        form ? try http.call("POST", path, form: body) : try http.call("POST", path, json: body)
    }

    // MARK: Login

    func testLoginReturnsExpiryAndTokenAndTheSameTokenOnReLogin() throws {
        let first = try login(#"{"username":"alice","password":"alice-pw","client":"web"}"#)
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.header("Content-Type"), "application/json")
        let token = try XCTUnwrap(first.object["token"] as? String)
        XCTAssertEqual(token.count, 64)
        XCTAssertTrue(token.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        XCTAssertEqual(Array(first.object.keys).sorted(), ["expiry", "token"], "no user object unless DURIN_USER_FIELDS")
        let expiry = try XCTUnwrap(first.object["expiry"] as? String)
        XCTAssertNotNil(expiry.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$"#, options: .regularExpression), expiry)

        // Form data, no trailing slash, username with surrounding spaces: same pair, same token.
        let again = try login("username=+alice+&password=alice-pw&client=web", form: true, path: "/api/auth/login")
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.object["token"] as? String, token)
        XCTAssertEqual(again.object["expiry"] as? String, expiry, "re-login keeps the expiry")

        // Another client gets another token.
        let mobile = try login(#"{"username":"alice","password":"alice-pw","client":"mobile"}"#)
        XCTAssertNotEqual(mobile.object["token"] as? String, token)
    }

    func testMultipartLoginAsCurlSendsIt() throws {
        let out = try Processes.run(
            [
                "curl", "-s", "-F", "username=alice", "-F", "password=alice-pw", "-F", "client=web",
                "http://127.0.0.1:\(stack.port)/api/auth/login/",
            ], environment: stack.environment
        ).checked()
        let body = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        XCTAssertEqual((body?["token"] as? String)?.count, 64, out)
    }

    func testLoginStoresOnlyTheDigestWithNativeExpiry() throws {
        let token = try stack.login("carol", "carol-pw", client: "cli")
        let key = tokenKey(token)
        if stack.onCluster {
            XCTAssertEqual(try stack.redisCLI("EXISTS", "durin:t:" + token), "0", "the token itself is never a key")
            XCTAssertEqual(try stack.redisCLI("EXISTS", key), "1")
        } else {
            let keys = try stack.redisCLI("--scan", "--pattern", "durin:t:*")
            XCTAssertFalse(keys.contains(token), "the token itself is never a key")
            XCTAssertTrue(keys.contains(key))
        }
        XCTAssertEqual(try stack.redisCLI("HGET", key, "u"), "carol")
        XCTAssertEqual(try stack.redisCLI("HGET", key, "c"), "cli")
        XCTAssertNotNil(Int(try stack.redisCLI("HGET", key, "i")), "session ids are integers")
        let dump = try stack.redisCLI("HGETALL", key)
        XCTAssertFalse(dump.contains(token))
        XCTAssertFalse(dump.contains(String(token.prefix(16))), "nor any part of it: the sealed copy is encrypted")
        let expiry = try XCTUnwrap(Int64(try stack.redisCLI("HGET", key, "e")))
        let inDay = expiry - Int64(Date().timeIntervalSince1970 * 1000)
        XCTAssertGreaterThan(inDay, 86_390_000)
        XCTAssertLessThanOrEqual(inDay, 86_400_000)
        // Native expiry: the expiry plus the grace period (a day), in which the token
        // answers "expired" once.
        XCTAssertEqual(Int64(try stack.redisCLI("PEXPIRETIME", key)), expiry + 86_400_000)
        XCTAssertEqual(try stack.redisCLI("HGET", "durin:user:carol", "t:cli"), tokenDigest(token))
    }

    func testLoginFieldErrorsLikeDRF() throws {
        var r = try login("{}")
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.text, #"{"username":["This field is required."],"password":["This field is required."]}"#)
        r = try login(#"{"username":"   ","password":"x"}"#)
        XCTAssertEqual(r.text, #"{"username":["This field may not be blank."]}"#)
        r = try login(#"{"username":"alice","password":""}"#)
        XCTAssertEqual(r.text, #"{"password":["This field may not be blank."]}"#)
        r = try login(#"{"username":null,"password":["x"]}"#)
        XCTAssertEqual(r.text, #"{"username":["This field may not be null."],"password":["Not a valid string."]}"#)
        r = try login("[1,2]")
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.text, #"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#)
        r = try http.call("POST", "/api/auth/login/")  // no body at all
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.object["username"] as? [String], ["This field is required."])
    }

    func testCredentialsAreCheckedBeforeTheClient() throws {
        let bad = #"{"non_field_errors":["Unable to log in with provided credentials."]}"#
        XCTAssertEqual(try login(#"{"username":"alice","password":"wrong"}"#).text, bad)
        XCTAssertEqual(try login(#"{"username":"nobody","password":"x","client":"web"}"#).text, bad)
        XCTAssertEqual(try login(#"{"username":"alice","password":"Alice-pw","client":"web"}"#).text, bad)
        XCTAssertEqual(try login(#"{"username":"ALICE","password":"alice-pw","client":"web"}"#).text, bad, "usernames are case-sensitive")
        XCTAssertEqual(try login(#"{"username":"bob","password":"spaced pw","client":"web"}"#).text, bad, "passwords are not trimmed")
        XCTAssertEqual(try login(#"{"username":"bob","password":" spaced pw ","client":"web"}"#).status, 200)

        var r = try login(#"{"username":"alice","password":"alice-pw"}"#)
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.text, #"{"detail":"No client specified."}"#)
        r = try login(#"{"username":"alice","password":"alice-pw","client":""}"#)
        XCTAssertEqual(r.detail, "No client specified.")
        r = try login(#"{"username":"alice","password":"alice-pw","client":"Web"}"#)
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.text, #"{"detail":"No client with that name."}"#)
    }

    func testInactiveUsersGetTheGenericErrorAndTheirTokensStopWorking() throws {
        try stack.addUser("dave", password: "dave-pw")
        let token = try stack.login("dave", "dave-pw", client: "web")
        try stack.durinctl(["user", "deactivate", "dave"]).checked()
        XCTAssertEqual(
            try login(#"{"username":"dave","password":"dave-pw","client":"web"}"#).text,
            #"{"non_field_errors":["Unable to log in with provided credentials."]}"#)
        let r = try http.call("POST", "/api/auth/refresh/", token: token)
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.detail, "User inactive or deleted.")
        try stack.durinctl(["user", "activate", "dave"]).checked()
        XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: token).status, 200)
    }

    func testLoginIgnoresAnyAuthorizationHeader() throws {
        let r = try http.call(
            "POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#,
            extra: [("Authorization", "Token a b c")])
        XCTAssertEqual(r.status, 200)
    }

    // MARK: Authentication header

    func testHeaderParsingLikeDurin() throws {
        let token = try stack.login("alice", "alice-pw", client: "cli")
        func refresh(_ header: [UInt8]?) throws -> HTTPResult {
            try http.request("POST", "/api/auth/refresh/", headers: header.map { [("Authorization", $0)] } ?? [])
        }
        var r = try refresh(nil)
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.detail, "Authentication credentials were not provided.")
        XCTAssertEqual(r.headers("WWW-Authenticate"), ["Token"])
        r = try refresh(Array("Bearer \(token)".utf8))
        XCTAssertEqual(r.detail, "Authentication credentials were not provided.")
        r = try refresh(Array("Token".utf8))
        XCTAssertEqual(r.detail, "Invalid token header. No credentials provided.")
        r = try refresh(Array("Token \(token) extra".utf8))
        XCTAssertEqual(r.detail, "Invalid token header. Token string should not contain spaces.")
        r = try refresh(Array("Token ".utf8) + [0xC3, 0x28, 0xFF])
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.detail, "Invalid token.")
        r = try refresh(Array("Token 0000".utf8))
        XCTAssertEqual(r.detail, "Invalid token.")
        XCTAssertEqual(r.headers("WWW-Authenticate"), ["Token"])
        r = try refresh(Array("tOKEN \t \(token)".utf8))
        XCTAssertEqual(r.status, 200, "the prefix matches case-insensitively; any white space separates")
    }

    func testAuthenticationRunsBeforeTheMethodCheck() throws {
        var r = try http.call("GET", "/api/auth/refresh/")
        XCTAssertEqual(r.status, 401)
        let token = try stack.login("alice", "alice-pw", client: "web")
        r = try http.call("GET", "/api/auth/refresh/", token: token)
        XCTAssertEqual(r.status, 405)
        XCTAssertEqual(r.text, #"{"detail":"Method \"GET\" not allowed."}"#)
        r = try http.call("GET", "/api/auth/login/")
        XCTAssertEqual(r.status, 405)
        XCTAssertEqual(r.detail, "Method \"GET\" not allowed.")
        r = try http.call("DELETE", "/api/auth/logout", token: token)
        XCTAssertEqual(r.detail, "Method \"DELETE\" not allowed.")
    }

    // MARK: Refresh, logout, logoutall

    func testRefreshRenewsTheSameTokenWithAFreshExpiry() throws {
        let token = try stack.login("alice", "alice-pw", client: "mobile")
        let key = tokenKey(token)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try stack.redisCLI("HSET", key, "e", String(now + 60_000))  // as if most of its life had passed
        let r = try http.call("POST", "/api/auth/refresh", token: token)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(Array(r.object.keys), ["expiry"])
        let expiry = try XCTUnwrap(Int64(try stack.redisCLI("HGET", key, "e")))
        XCTAssertGreaterThan(expiry - now, 86_000_000, "refresh restores the client's full TTL")
        XCTAssertEqual(Int64(try stack.redisCLI("PEXPIRETIME", key)), expiry + 86_400_000, "and the key's own expiry with it")
        XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: token).status, 200, "the token still works")
    }

    func testLogoutRevokesOnlyThatToken() throws {
        try stack.addUser("erin", password: "erin-pw")
        let web = try stack.login("erin", "erin-pw", client: "web")
        let cli = try stack.login("erin", "erin-pw", client: "cli")
        let r = try http.call("POST", "/api/auth/logout/", token: web)
        XCTAssertEqual(r.status, 204)
        XCTAssertTrue(r.body.isEmpty)
        XCTAssertNil(r.header("Content-Type"), "204 has no Content-Type, as DRF answers")
        XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: web).detail, "Invalid token.")
        XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: cli).status, 200)
        XCTAssertEqual(try stack.redisCLI("HEXISTS", "durin:user:erin", "t:web"), "0")
        // A new login after logout issues a new token.
        XCTAssertNotEqual(try stack.login("erin", "erin-pw", client: "web"), web)
    }

    func testLogoutAllRevokesEveryTokenOfTheUser() throws {
        try stack.addUser("frank", password: "frank-pw")
        let tokens = try ["web", "cli", "mobile"].map { try stack.login("frank", "frank-pw", client: $0) }
        let other = try stack.login("alice", "alice-pw", client: "web")
        let r = try http.call("POST", "/api/auth/logoutall/", token: tokens[1])
        XCTAssertEqual(r.status, 204)
        XCTAssertTrue(r.body.isEmpty)
        for t in tokens { XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: t).detail, "Invalid token.") }
        XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: other).status, 200, "other users keep theirs")
        XCTAssertFalse(try stack.redisCLI("HKEYS", "durin:user:frank").contains("t:"), "the index is empty")
    }

    // MARK: Expiry

    func testExpiredTokenAnswersExpiredOnceThenInvalid() throws {
        try stack.addUser("gina", password: "gina-pw")
        let token = try stack.login("gina", "gina-pw", client: "short")
        let expiry = try XCTUnwrap(Int64(try stack.redisCLI("HGET", tokenKey(token), "e")))
        let left = expiry - Int64(Date().timeIntervalSince1970 * 1000)
        XCTAssertGreaterThan(left, 0)
        XCTAssertLessThanOrEqual(left, 2000)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 200)
        // Wait until the stored expiry has passed, by the clock Redis reads (TIME).
        // Asking durin instead would either renew the token (refresh) or use up the
        // once-only answer (verify).
        XCTAssertTrue(
            Processes.eventually(timeout: 30) {
                guard let time = try? self.stack.redisCLI("TIME").split(separator: "\n"), time.count == 2,
                    let s = Int64(time[0]), let us = Int64(time[1])
                else { return false }
                return s * 1000 + us / 1000 > expiry
            }, "the token never expired")
        var r = try http.call("POST", "/api/auth/refresh/", token: token)
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.detail, "The given token has expired.")
        r = try http.call("POST", "/api/auth/refresh/", token: token)
        XCTAssertEqual(r.detail, "Invalid token.")
        // Login after expiry issues a fresh token.
        XCTAssertNotEqual(try stack.login("gina", "gina-pw", client: "short"), token)
    }

    func testNeverExpiringClient() throws {
        try stack.addClient("robot", ttl: "never")
        let r = try login(#"{"username":"alice","password":"alice-pw","client":"robot"}"#)
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.object["expiry"] is NSNull, "a token that never expires has a null expiry")
        let token = try XCTUnwrap(r.object["token"] as? String)
        XCTAssertEqual(try stack.redisCLI("PTTL", tokenKey(token)), "-1")
        XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: token).status, 200)
    }

    // MARK: verify/ and protected locations

    func testVerifyRouteAnswersWithIdentityHeaders() throws {
        let token = try stack.login("alice", "alice-pw", client: "web")
        let r = try http.call("GET", "/api/auth/verify/", token: token)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("X-Durin-User"), "alice")
        XCTAssertEqual(r.header("X-Durin-Client"), "web")
        XCTAssertNotNil(r.header("X-Durin-Expiry"))
        XCTAssertEqual(r.object["user"] as? String, "alice")
        XCTAssertEqual(r.object["client"] as? String, "web")
        XCTAssertEqual(try http.call("GET", "/api/auth/verify").status, 401)
    }

    func testProtectedLocationsApplyClientRules() throws {
        let web = try stack.login("carol", "carol-pw", client: "web")
        let cli = try stack.login("carol", "carol-pw", client: "cli")
        var r = try http.call("GET", "/api/ping/", token: cli)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, #"{"user":"carol","client":"cli"}"#)
        XCTAssertEqual(try http.call("GET", "/api/web-only/", token: web).status, 200)
        r = try http.call("GET", "/api/web-only/", token: cli)
        XCTAssertEqual(r.status, 403)
        XCTAssertEqual(r.text, #"{"detail":"You do not have permission to perform this action."}"#)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        XCTAssertEqual(try http.call("GET", "/api/no-cli/", token: cli).status, 403)
        XCTAssertEqual(try http.call("GET", "/api/no-cli/", token: web).status, 200)
        // A POST with a body goes through verify/ as GET, without the body.
        r = try http.call("POST", "/api/ping/", token: web, json: #"{"x":1}"#)
        XCTAssertEqual(r.status, 200)
    }

    func testProtectedLocationDenialsCarryDurinsBodies() throws {
        var r = try http.call("GET", "/api/ping/")
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.text, #"{"detail":"Authentication credentials were not provided."}"#)
        XCTAssertEqual(r.headers("WWW-Authenticate"), ["Token"])
        r = try http.call("GET", "/api/ping/", token: "nope")
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.text, #"{"detail":"Invalid token."}"#)
        r = try http.call("GET", "/api/ping/", extra: [("Authorization", "Token a b")])
        XCTAssertEqual(r.detail, "Invalid token header. Token string should not contain spaces.")
    }

    func testSpoofedIdentityHeadersNeverReachTheUpstream() throws {
        let token = try stack.login("carol", "carol-pw", client: "web")
        // Refused before any location runs (NginxHeaderTests covers nested locations).
        let r = try http.call(
            "GET", "/api/ping/", token: token,
            extra: [("X-Durin-User", "admin"), ("X-Durin-Client", "cli")])
        XCTAssertEqual(r.status, 400)
        XCTAssertFalse(r.text.contains("admin"), r.text)
        let anonymous = try http.call("GET", "/api/ping/", extra: [("X-Durin-User", "admin")])
        XCTAssertEqual(anonymous.status, 400)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).text, #"{"user":"carol","client":"web"}"#)
    }
}

/// A token's Redis key suffix, computed independently of durin's own code path
/// (swift-crypto's SHA-256, as durin uses, but not durin's Token type).
func sha256Hex(_ s: String) -> String {
    SHA256.hash(data: Array(s.utf8)).map { String(format: "%02x", $0) }.joined()
}

/// A token's name in Redis: the first 120 bits of its SHA-256, in base64url.
func tokenDigest(_ token: String) -> String {
    Data(SHA256.hash(data: Array(token.utf8)).prefix(15)).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
}

/// A token's key, under the suite's prefix.
func tokenKey(_ token: String) -> String { "durin:t:" + tokenDigest(token) }
