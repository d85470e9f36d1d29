import DurinTestSupport
import Foundation
import XCTest

/// A second factor at login (TOTP), through nginx, with codes computed by an
/// independent implementation (Python's hmac, by RFC 6238): a client that requires
/// it asks for the code, a code is good once, wrong codes count against the login
/// limits, a user enrols at totp/ by confirming a first code, and users and clients
/// without a second factor keep durin's answers.
final class SecondFactorTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.durinctl(["client", "add", "secure", "--require-otp"]).checked()
        for name in ["tina", "uma", "gus", "vera", "walt"] { try stack.addUser(name, password: "\(name)-pw") }
        try stack.addUser("stan", password: "stan-pw", extra: ["--staff"])
    }

    /// The code of `secret` (base32) at now + `offset` seconds, by RFC 6238 in Python.
    func code(_ secret: String, offset: Int = 0) throws -> String {
        let program = """
            import base64, hashlib, hmac, struct, sys, time
            s = sys.argv[1]; key = base64.b32decode(s + "=" * (-len(s) % 8))
            h = hmac.new(key, struct.pack(">Q", int(time.time() + float(sys.argv[2])) // 30), hashlib.sha1).digest()
            o = h[-1] & 15
            print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000))
            """
        return try Processes.run(["/usr/bin/python3", "-c", program, secret, String(offset)], environment: [:]).checked()
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A code that is none of the three the service would accept now.
    func wrongCode(_ secret: String) throws -> String {
        let valid = Set([try code(secret, offset: -30), try code(secret), try code(secret, offset: 30)])
        return ["000000", "111111", "222222", "333333"].first { !valid.contains($0) }!
    }

    func enroll(_ user: String) throws -> String {
        let uri = try stack.durinctl(["user", "totp", "enroll", user]).checked().trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(uri.hasPrefix("otpauth://totp/durin:\(user)?secret="), uri)
        XCTAssertTrue(uri.hasSuffix("&issuer=durin&algorithm=SHA1&digits=6&period=30"), uri)
        let query = try XCTUnwrap(URLComponents(string: uri)?.queryItems)
        return try XCTUnwrap(query.first { $0.name == "secret" }?.value)
    }

    func login(_ user: String, client: String = "secure", otp: String? = nil) throws -> HTTPResult {
        let extra = otp.map { #","otp":"\#($0)""# } ?? ""
        return try http.call(
            "POST", "/api/auth/login/", json: #"{"username":"\#(user)","password":"\#(user)-pw","client":"\#(client)"\#(extra)}"#)
    }

    func testACodeIsAskedForCheckedAndGoodOnce() throws {
        let secret = try enroll("tina")
        var r = try login("tina")
        XCTAssertEqual(r.status, 401, r.text)
        XCTAssertEqual(r.object["code"] as? String, "otp_required")
        XCTAssertEqual(r.detail, "A one-time password is required: log in again with otp.")
        XCTAssertNil(r.object["token"])
        XCTAssertEqual(
            try http.call(
                "POST", "/api/auth/login/", json: #"{"username":"tina","password":"wrong","client":"secure"}"#
            ).status, 400,
            "a wrong password is durin's answer, whatever the client")

        r = try login("tina", otp: try wrongCode(secret))
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.object["code"] as? String, "otp_invalid")
        let now = try code(secret)
        r = try login("tina", otp: now)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual((r.object["token"] as? String)?.count, 64)
        r = try login("tina", otp: now)
        XCTAssertEqual(r.object["code"] as? String, "otp_invalid", "a code is good once")

        // A client that does not require it: durin's answer, exactly.
        r = try login("tina", client: "web")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(Array(r.object.keys).sorted(), ["expiry", "token"])

        // The secret is stored sealed, never as the app's secret.
        let keys = try stack.redisCLI("--scan", "--pattern", "*otp:tina*")
        XCTAssertFalse(keys.isEmpty)
        for key in keys.split(separator: "\n") {
            let stored = try stack.redisCLI("HGETALL", String(key))
            XCTAssertFalse(stored.contains(secret), stored)
        }
        try stack.durinctl(["user", "totp", "remove", "tina"]).checked()
        XCTAssertEqual(try login("tina").object["code"] as? String, "otp_not_enrolled")
    }

    func testAUserWithoutOneCannotUseARequiringClient() throws {
        let r = try login("uma")
        XCTAssertEqual(r.status, 403, r.text)
        XCTAssertEqual(r.object["code"] as? String, "otp_not_enrolled")
        XCTAssertEqual(try login("uma", client: "web").status, 200)
    }

    func testGuessedCodesCountAgainstTheLoginLimits() throws {
        let secret = try enroll("gus")
        let wrong = try wrongCode(secret)
        var statuses: [Int] = []
        for _ in 0..<11 { statuses.append(try login("gus", otp: wrong).status) }
        XCTAssertEqual(statuses.prefix(10).filter { $0 == 401 }.count, 10, "\(statuses)")
        XCTAssertEqual(statuses.last, 429, "past DURIN_LOGIN_FAILURE_RATE: \(statuses)")
        let events = try stack.durinctl(["events", "--last", "50", "--json"]).checked()
        XCTAssertTrue(events.contains(#""type":"login_failed","user":"gus""#), events)
    }

    func testAUserEnrolsAtTOTPByConfirmingAFirstCode() throws {
        let token = try XCTUnwrap(try login("vera", client: "web").object["token"] as? String)
        var r = try http.call("GET", "/api/auth/totp/", token: token)
        XCTAssertEqual(r.object["enrolled"] as? Bool, false)
        r = try http.call("POST", "/api/auth/totp/", token: token, json: "{}")
        XCTAssertEqual(r.status, 400, "a token alone cannot choose the second factor")
        XCTAssertEqual(r.object["password"] as? [String], ["This field is required."])
        r = try http.call("POST", "/api/auth/totp/", token: token, json: #"{"password":"wrong"}"#)
        XCTAssertEqual(r.object["password"] as? [String], ["Wrong password."])
        r = try http.call("POST", "/api/auth/totp/", token: token, json: #"{"password":"vera-pw"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.header("Cache-Control"), "no-store")
        let secret = try XCTUnwrap(r.object["secret"] as? String)
        XCTAssertTrue((r.object["otpauth_url"] as? String)?.contains("secret=\(secret)") == true)
        XCTAssertEqual(try login("vera").object["code"] as? String, "otp_not_enrolled", "pending is not enrolled")

        r = try http.call("POST", "/api/auth/totp/", token: token, json: #"{"code":"\#(try wrongCode(secret))"}"#)
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.object["code"] as? [String], ["Invalid one-time password."])
        r = try http.call("POST", "/api/auth/totp/", token: token, json: #"{"code":"\#(try code(secret))"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(try http.call("GET", "/api/auth/totp/", token: token).object["enrolled"] as? Bool, true)
        r = try http.call("POST", "/api/auth/totp/", token: token, json: #"{"password":"vera-pw"}"#)
        XCTAssertEqual(r.status, 400, "a stolen token cannot replace it")
        // The confirming code is used; the next step's is good.
        XCTAssertEqual(try login("vera", otp: try code(secret, offset: 30)).status, 200)
    }

    /// A user with a second factor who must also change their password: the new
    /// password is asked for first and checked, the code then, and the change is made
    /// only once both passed, so no code is spent on a login that stops.
    func testARequiredPasswordChangeComesBeforeTheCode() throws {
        let secret = try enroll("walt")
        try stack.durinctl(["user", "set", "walt", "--require-password-change"]).checked()
        func attempt(_ extra: String) throws -> HTTPResult {
            try http.call(
                "POST", "/api/auth/login/", json: #"{"username":"walt","password":"walt-pw","client":"secure"\#(extra)}"#)
        }
        XCTAssertEqual(try attempt("").object["code"] as? String, "password_change_required")
        var r = try attempt(#","new_password":"123""#)
        XCTAssertEqual((r.object["new_password"] as? [String])?.last, "This password is entirely numeric.", "checked before the code")
        r = try attempt(#","new_password":"walt-new-passphrase""#)
        XCTAssertEqual(r.object["code"] as? String, "otp_required")
        XCTAssertEqual(try attempt("").object["code"] as? String, "password_change_required", "nothing changed yet")
        let now = try code(secret)
        r = try attempt(#","new_password":"walt-new-passphrase","otp":"\#(now)""#)
        XCTAssertEqual(r.status, 200, r.text)
        r = try http.call(
            "POST", "/api/auth/login/",
            json: #"{"username":"walt","password":"walt-new-passphrase","client":"secure","otp":"\#(try code(secret, offset: 30))"}"#)
        XCTAssertEqual(r.status, 200, r.text)
    }

    func testTheConsoleAsksStaffWhoHaveOne() throws {
        let secret = try enroll("stan")
        let origin = [("Origin", "http://127.0.0.1"), ("Sec-Fetch-Site", "same-origin")]
        var r = try http.call("POST", "/durin/console/api/session", json: #"{"username":"stan","password":"stan-pw"}"#, extra: origin)
        XCTAssertEqual(r.status, 401, r.text)
        XCTAssertEqual(r.object["code"] as? String, "otp_required")
        r = try http.call(
            "POST", "/durin/console/api/session", json: #"{"username":"stan","password":"stan-pw","otp":"\#(try code(secret))"}"#,
            extra: origin)
        XCTAssertEqual(r.status, 200, r.text)

        // The console enrols a user: the URI, the secret and the URI's QR code, which
        // an independent decoder (zbarimg) reads back.
        let cookie = try XCTUnwrap(r.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
        let csrf = try XCTUnwrap(r.object["csrf"] as? String)
        r = try http.call(
            "POST", "/durin/console/api/users/uma/otp", json: #"{"action":"enroll"}"#,
            extra: origin + [("Cookie", cookie), ("X-CSRF-Token", csrf)])
        XCTAssertEqual(r.status, 200, r.text)
        let uri = try XCTUnwrap(r.object["otpauth_url"] as? String)
        let rows = try XCTUnwrap(r.object["qr"] as? [String])
        let pbm =
            ["P1", "\(rows.count + 8) \(rows.count + 8)"]
            + (0..<(rows.count + 8)).map { y in
                (0..<(rows.count + 8)).map { x in
                    let (mx, my) = (x - 4, y - 4)
                    guard rows.indices.contains(my), mx >= 0, mx < rows[my].count else { return "0" }
                    return Array(rows[my])[mx] == "1" ? "1" : "0"
                }.joined(separator: " ")
            }
        let file = "\(stack.state)/qr.pbm"
        try (pbm.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .ascii)
        let scaled = "\(stack.state)/qr-scaled.pbm"
        _ = try Processes.run(["/usr/bin/python3", "-c", Self.scale, file, scaled], environment: [:]).checked()
        let decoded = try Processes.run(["/usr/bin/zbarimg", "--raw", "-q", scaled], environment: [:]).checked()
        XCTAssertEqual(decoded.trimmingCharacters(in: .newlines), uri)
        XCTAssertEqual(try login("uma").object["code"] as? String, "otp_required", "enrolled at once")
    }

    /// Scales a plain PBM by 4 (a decoder wants more than a pixel a module).
    static let scale = """
        import sys
        lines = open(sys.argv[1]).read().split("\\n")
        w, h = map(int, lines[1].split())
        rows = [l.split() for l in lines[2:2 + h]]
        out = ["P1", f"{w * 4} {h * 4}"]
        for r in rows:
            line = " ".join(v for v in r for _ in range(4))
            out += [line] * 4
        open(sys.argv[2], "w").write("\\n".join(out) + "\\n")
        """
}
