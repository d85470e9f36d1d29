import DurinCore
import DurinStore
import Foundation
import XCTest

/// What an unauthenticated client can make Redis keep, and whom it can lock out:
/// hostile logins leave a bounded amount behind, a guesser locks a name only for
/// the address it guesses from, and guesses spread over many addresses still meet
/// a per-name backstop. Every 429 says when to come back.
final class LoginStateTests: XCTestCase {
    static func body(_ user: String, _ password: String) -> String {
        #"{"username":"\#(user)","password":"\#(password)","client":"web"}"#
    }

    static func login(_ port: UInt16, _ user: String, _ password: String, from source: String) -> HTTPResult? {
        try? RawHTTP(port: port, source: source).call("POST", "/api/auth/login/", json: body(user, password), timeout: 60)
    }

    func usedMemory(_ stack: Stack) throws -> Int {
        let info = try stack.redisCLI("INFO", "memory")
        let line = try XCTUnwrap(info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") })
        return try XCTUnwrap(Int(line.dropFirst("used_memory:".count)))
    }

    /// 2,000 logins no one could ever complete, 500 of each kind, each from an
    /// address of its own: names far past 150 code points, names of one letter and
    /// thousands of combining marks (one grapheme), 50 KB passwords, and ever new
    /// names. Redis grows by less than 2 MB. (One login with a 300,000-mark name
    /// used to add about 0.8 MB: the name went whole into a key and an event.)
    func testHostileLoginsLeaveLittleBehind() throws {
        let stack = try Stack(settings: ["DURIN_LOGIN_RATE_PER_ADDRESS": "30/m"])
        defer { stack.stop() }
        try XCTSkipIf(stack.onCluster, "used_memory is one server's")
        try stack.addClient("web")
        try stack.addUser("owner", password: "owner-pw")
        try LoginDefenceTests.liftNginxLoginLimit(stack)
        let port = stack.port
        // Scripts loaded, the event stream and its first node made.
        for i in 0..<20 { _ = Self.login(port, "warm\(i)", "pw", from: "127.3.0.\(i + 1)") }
        let before = try usedMemory(stack)

        let marks = String(repeating: "\u{0345}", count: 3000)
        let longPassword = String(repeating: "p", count: 50_000)
        let statuses = LoginDefenceTests.flood(2000, parallel: 8) { i in
            let source = "127.2.\(i / 250).\(i % 250 + 1)"
            let (user, password): (String, String)
            switch i % 4 {
            case 0: (user, password) = (String(repeating: "n", count: 151 + i), "pw")
            case 1: (user, password) = ("a" + marks, "pw")
            case 2: (user, password) = ("guess\(i)", longPassword)
            default: (user, password) = ("name\(i)x\(UUID().uuidString.prefix(8))", "pw")
            }
            return Self.login(port, user, password, from: source)?.status ?? 0
        }
        XCTAssertEqual(Set(statuses), [400], "every one refused as bad credentials")
        let grown = try usedMemory(stack) - before
        print("2000 hostile logins grew Redis's used_memory by \(grown) bytes")
        XCTAssertLessThan(grown, 2 << 20)
        // Nothing any of them sent is in a key name.
        let keys = try stack.redisCLI("--scan")
        XCTAssertFalse(keys.contains("guess"), "a tried name in a key")
        XCTAssertFalse(keys.contains("nnnn"), "a tried name in a key")
        XCTAssertFalse(keys.contains("127.2."), "an address in a key")
        XCTAssertEqual(try stack.login("owner", "owner-pw", client: "web").count, 64, "the owner still logs in")
    }

    /// A guesser at the limit from one address, and the name's owner logging in from
    /// another at the same time: the owner gets in every time; the guesser's refusals
    /// say when to try again, and stop at the limit, the right password included.
    func testAGuesserDoesNotLockTheOwnerOut() throws {
        let stack = try Stack(settings: ["DURIN_LOGIN_FAILURE_RATE": "10/m", "DURIN_LOGIN_RATE_PER_ADDRESS": "1000/m"])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("olga", password: "olga-pw")
        let port = stack.port
        let guesses = Locked<[HTTPResult]>([])
        let attacker = Thread {
            for _ in 0..<30 {
                if let r = Self.login(port, "olga", "guess", from: "127.0.0.5") { guesses.update { $0?.append(r) } }
            }
        }
        attacker.start()
        var owner: [Int] = []
        for _ in 0..<10 { owner.append(Self.login(port, "olga", "olga-pw", from: "127.0.0.6")?.status ?? 0) }
        while !attacker.isFinished { usleep(10_000) }
        XCTAssertEqual(Set(owner), [200], "the owner, from another address")
        let results = guesses.get() ?? []
        XCTAssertEqual(results.filter { $0.status == 400 }.count, 10, "\(results.map(\.status))")
        XCTAssertEqual(results.filter { $0.status == 429 }.count, 20)
        for r in results where r.status == 429 {
            let wait = try XCTUnwrap(Int(r.header("Retry-After") ?? ""), "a 429 without Retry-After")
            XCTAssertTrue((1...60).contains(wait), "\(wait)")
            XCTAssertEqual(r.detail, "Request was throttled. Expected available in \(wait) second\(wait == 1 ? "" : "s").")
        }
        XCTAssertEqual(
            Self.login(port, "olga", "olga-pw", from: "127.0.0.5")?.status, 429, "the guesser's address waits, right password or not")
        XCTAssertEqual(Self.login(port, "olga", "olga-pw", from: "127.0.0.6")?.status, 200)
    }

    /// Guesses spread over many addresses meet the per-name backstop
    /// (DURIN_LOGIN_FAILURE_RATE_PER_USER): then the name waits, from anywhere.
    func testGuessesFromManyAddressesMeetTheBackstop() throws {
        let stack = try Stack(settings: [
            "DURIN_LOGIN_FAILURE_RATE": "10/m", "DURIN_LOGIN_FAILURE_RATE_PER_USER": "25/h",
            "DURIN_LOGIN_RATE_PER_ADDRESS": "1000/m",
        ])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("pia", password: "pia-pw")
        let port = stack.port
        var statuses: [Int] = []
        for address in 1...3 {
            for _ in 0..<10 { statuses.append(Self.login(port, "pia", "guess", from: "127.0.1.\(address)")?.status ?? 0) }
        }
        XCTAssertEqual(statuses.filter { $0 == 400 }.count, 25, "\(statuses)")
        let r = try XCTUnwrap(Self.login(port, "pia", "pia-pw", from: "127.0.1.99"))
        XCTAssertEqual(r.status, 429, "a fourth address meets the backstop")
        XCTAssertNotNil(Int(r.header("Retry-After") ?? ""))
        XCTAssertEqual(Self.login(port, "other", "x", from: "127.0.1.99")?.status, 400, "another name is not held")
    }

    /// IPv6 clients count per /64, and an address that is none (empty, or too long)
    /// counts too, in one group: sent as nginx would, with the proxy key, straight to
    /// the socket (loopback has no second /64 to send from).
    func testIPv6CountsPerSlash64AndNoAddressSkipsTheLimit() throws {
        let stack = try Stack(settings: ["DURIN_LOGIN_FAILURE_RATE": "3/m", "DURIN_LOGIN_RATE_PER_ADDRESS": "5/m"])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("ivy", password: "ivy-pw")
        let key = try String(contentsOfFile: "\(stack.state)/proxy-key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let peer = RawFastCGI(socketPath: "\(stack.state)/durin.sock")
        func login(_ user: String, _ password: String, from address: String) throws -> Int {
            let body = Array(Self.body(user, password).utf8)
            return try peer.call(
                [
                    ("REQUEST_METHOD", "POST"), ("PATH_INFO", "/login/"), ("SCRIPT_NAME", "/api/auth"),
                    ("DURIN_PROXY_KEY", key), ("REMOTE_ADDR", address), ("CONTENT_TYPE", "application/json"),
                    ("CONTENT_LENGTH", String(body.count)),
                ], body: body
            ).status
        }
        // Three guesses from three addresses of one /64: its window is full.
        for host in ["1", "2", "3"] { XCTAssertEqual(try login("ivy", "guess", from: "2001:db8:0:7::\(host)"), 400) }
        XCTAssertEqual(try login("ivy", "ivy-pw", from: "2001:db8:0:7::abcd"), 429, "the same /64")
        XCTAssertEqual(try login("ivy", "ivy-pw", from: "2001:db8:0:8::1"), 200, "another /64")
        // The per-address limit (5/m) holds for addresses that are none.
        for address in ["", String(repeating: "9", count: 100)] {
            var statuses: [Int] = []
            for i in 0..<6 { statuses.append(try login("nobody\(i)", "x", from: address)) }
            XCTAssertEqual(statuses.last, 429, "\"\(address.prefix(10))\": \(statuses)")
        }
    }
}
