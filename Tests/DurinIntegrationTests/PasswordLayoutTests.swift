import DurinCore
import Foundation
import XCTest

/// Layout 3 (issue 23, 4): password hashes live in keys of their own under
/// `durin:secret`, which the read-only inspection user cannot read, not in the user
/// hash its recipes read, and sealed tokens are the AEAD's (TokenSeal). durin-fcgi
/// moves a layout-2 keyspace at start, on one server and (in the cluster lane) on a
/// cluster: users keep their passwords and their tokens.
final class PasswordLayoutTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        for name in ["pia", "paul"] { try stack.addUser(name, password: "\(name)-pw") }
    }

    func testALayout2KeyspaceMovesItsPasswordHashesAtStart() throws {
        let keys = stack.keys
        let token = try stack.login("pia", "pia-pw", client: "web")
        // Back to layout 2, as a release before this one left it: each hash in its
        // user's hash, no password keys, the layout key at 2.
        try stack.devstack("durin-stop")
        var hashes: [String: String] = [:]
        for name in ["pia", "paul"] {
            let hash = try stack.redisCLI("GET", keys.password(name))
            XCTAssertTrue(hash.hasPrefix("pbkdf2_sha256$"), hash)
            hashes[name] = hash
            try stack.redisCLI("HSET", keys.user(name), "password", hash)
            try stack.redisCLI("DEL", keys.password(name))
        }
        // pia's token sealed as layout 2 sealed it (the XOR pad).
        let secret = Array((stack.stackEnv["DURIN_SECRET_KEY"] ?? "").utf8)
        let digest = Token(value: token).digest
        try stack.redisCLI("HSET", keys.token(digest), "s", TokenSeal(secret: secret).sealLegacy(Token(value: token), digest: digest))
        try stack.redisCLI("SET", keys.layout, "2")

        try stack.devstack("durin-start")
        XCTAssertEqual(try stack.redisCLI("GET", keys.layout), "3", "durin-fcgi moved the data at start")
        for name in ["pia", "paul"] {
            XCTAssertEqual(try stack.redisCLI("GET", keys.password(name)), hashes[name], name)
            XCTAssertEqual(try stack.redisCLI("HEXISTS", keys.user(name), "password"), "0", "\(name)'s user hash holds no hash")
        }
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 200, "tokens are untouched")
        let sealed = try stack.redisCLI("HGET", keys.token(digest), "s")
        XCTAssertFalse(TokenSeal.isLegacy(sealed), "sealed again with the AEAD: \(sealed)")
        XCTAssertEqual(TokenSeal(secret: secret).unseal(sealed, digest: digest)?.value, token)
        XCTAssertEqual(try stack.login("pia", "pia-pw", client: "web"), token, "the same password, the same token")
        let wrong = try http.call("POST", "/api/auth/login/", json: #"{"username":"paul","password":"nope","client":"web"}"#)
        XCTAssertEqual(wrong.status, 400)
        XCTAssertEqual(try stack.login("paul", "paul-pw", client: "web").count, 64)

        // A new password goes to the key, and durinctl migrate has nothing left to do.
        try stack.durinctl(["user", "set-password", "paul", "--password-stdin"], stdin: "paul-new-pw\n").checked()
        XCTAssertNotEqual(try stack.redisCLI("GET", keys.password("paul")), hashes["paul"])
        XCTAssertEqual(try stack.redisCLI("HEXISTS", keys.user("paul"), "password"), "0")
        XCTAssertEqual(try stack.login("paul", "paul-new-pw", client: "web").count, 64)
        let report = try stack.durinctl(["migrate", "--json"]).checked()
        XCTAssertTrue(report.contains(#""already_current":true"#) && report.contains(#""layout":3"#), report)
        // A removed user's hash goes with them.
        try stack.durinctl(["user", "remove", "paul"]).checked()
        XCTAssertEqual(try stack.redisCLI("EXISTS", keys.password("paul")), "0")
    }
}
