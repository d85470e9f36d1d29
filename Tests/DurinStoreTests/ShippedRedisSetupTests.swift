import Crypto
import DurinCore
import DurinStore
import DurinTestSupport
import Foundation
import RedisClient
import XCTest

/// Redis as the README sets it up: the shipped durin-redis.conf's durability
/// (append-only file) with the shipped ACL, its placeholders filled as the README's
/// steps fill them. No connection without credentials runs anything, the inspection
/// user reads and never writes, and durin's data survives a restart.
final class ShippedRedisSetupTests: XCTestCase {
    var redis: RedisServer!
    let passwords = ["durin": "durin-pw-1", "durin-inspect": "inspect-pw-2", "admin": "admin-pw-3"]

    override func tearDown() {
        redis?.stop()
        super.tearDown()
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func sha256(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The shipped ACL with the README's substitutions; the default user's password
    /// is a random value thrown away.
    func writeACL(in dir: String) throws -> String {
        var acl = try String(contentsOfFile: "\(Self.root)/redis/durin.acl", encoding: .utf8)
        for (placeholder, user) in [
            ("DURIN-PASSWORD-SHA256", "durin"), ("INSPECT-PASSWORD-SHA256", "durin-inspect"),
            ("ADMIN-PASSWORD-SHA256", "admin"),
        ] {
            acl = acl.replacingOccurrences(of: placeholder, with: sha256(passwords[user]!))
        }
        acl = acl.replacingOccurrences(of: "DEFAULT-PASSWORD-SHA256", with: sha256(UUID().uuidString))
        XCTAssertFalse(acl.contains("-SHA256"), "every placeholder filled")
        let path = "\(dir)/users.acl"
        try acl.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func connection(as user: String?) -> RedisConnection {
        var endpoint = redis.endpoint
        if let user {
            endpoint.username = user
            endpoint.password = passwords[user]
        }
        return RedisConnection(endpoint: endpoint, timeoutMilliseconds: 2000)
    }

    func start(dir: String? = nil) throws {
        let dir = dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("durin-acl-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let acl = try writeACL(in: dir)
        redis = try RedisServer(settings: ["--appendonly", "yes", "--appendfsync", "everysec", "--aclfile", acl], dir: dir)
    }

    func testNoOneWithoutAPasswordAndDurinsDataSurviveARestart() throws {
        try start()
        XCTAssertEqual(try connection(as: nil).send("PING"), .error("NOAUTH Authentication required."))
        XCTAssertEqual(try connection(as: nil).send("GET", "durin:secret").errorPrefix, "NOAUTH")

        var config = Configuration()
        config.passwordIterations = 1000
        let durin = connection(as: "durin")
        let admin = AdminStore(connection: durin, configuration: config)
        try admin.addClient(ClientRecord(name: "web", tokenTTL: .seconds(3600), throttleRate: nil, created: 0))
        try admin.addUser(UserRecord(username: "alice", passwordHash: PasswordHasher(iterations: 1000).hash("pw"), isActive: true))
        let store = TokenStore(connection: durin, configuration: config)
        guard case .success(let issued) = try store.login(user: "alice", client: "web", mode: .keep, event: "login") else {
            return XCTFail("login")
        }
        let revoked = try store.login(user: "alice", client: "web", mode: .rotate)
        guard case .success(let current) = revoked else { return XCTFail("rotation") }

        // The inspection user reads durin's keys, and only reads them.
        let inspect = connection(as: "durin-inspect")
        let key = KeySpace(prefix: "durin:").token(current.token.digest)
        XCTAssertEqual(try inspect.send("HGET", key, "u").string, "alice")
        XCTAssertEqual(try inspect.send("HSET", key, "u", "mallory").errorPrefix, "NOPERM")
        XCTAssertEqual(try inspect.send("DEL", key).errorPrefix, "NOPERM")
        XCTAssertEqual(try inspect.send("CONFIG", "SET", "dir", "/tmp").errorPrefix, "NOPERM")
        XCTAssertEqual(try inspect.send("SET", "other", "x").errorPrefix, "NOPERM")
        // Every durin key but the sealing secret (kept in Redis here: no DURIN_SECRET_KEY),
        // which would unseal every token's sealed copy.
        XCTAssertNotNil(try durin.send("GET", "durin:secret").string)
        XCTAssertEqual(try inspect.send("GET", "durin:secret").errorPrefix, "NOPERM")
        XCTAssertEqual(try inspect.send("MGET", "durin:layout", "durin:secret").errorPrefix, "NOPERM")
        for readable in ["durin:seq:token", "durin:sealing", "durin:user:sam", "durin:{Ab}events", "durin:{se}user:x"] {
            XCTAssertNil(try inspect.send("EXISTS", readable).errorPrefix, readable)
        }
        // Nor any password hash: each in its own key under durin:secret (on a cluster
        // after the user's tag), and none left in the user hash the recipes read.
        for hidden in [
            KeySpace(prefix: "durin:").password("alice"), KeySpace(prefix: "durin:", cluster: true).password("alice"),
            "durin:secret:other",
        ] {
            XCTAssertEqual(try inspect.send("EXISTS", hidden).errorPrefix, "NOPERM", hidden)
        }
        XCTAssertNotNil(try durin.send("GET", KeySpace(prefix: "durin:").password("alice")).string)
        let record = try inspect.send("HGETALL", "durin:user:alice").fieldMap
        XCTAssertEqual(record["username"], "alice")
        XCTAssertNil(record["password"], "the user hash holds no password hash")
        XCTAssertFalse(record.values.contains { $0.hasPrefix("pbkdf2_") }, "\(record)")
        XCTAssertEqual(try durin.send("GET", "other").errorPrefix, "NOPERM", "durin's user stays in durin:")

        // Every write so far came from a script, which the append-only file records as
        // MULTI/EXEC; Redis 7.0 replays those as the default user (redis#14541).
        let dir = redis.dir
        redis.shutDown()
        redis = try RedisServer(settings: ["--appendonly", "yes", "--aclfile", "\(dir)/users.acl"], dir: dir)
        let after = TokenStore(connection: connection(as: "durin"), configuration: config)
        XCTAssertEqual(try after.authenticate(digest: issued.token.digest), .invalid, "the rotation's revocation survived")
        guard case .valid(let record) = try after.authenticate(digest: current.token.digest) else {
            return XCTFail("the token did not survive the restart: \(try String(contentsOfFile: "\(dir)/redis.log", encoding: .utf8))")
        }
        XCTAssertEqual(record.user, "alice")
        XCTAssertNotNil(try AdminStore(connection: connection(as: "durin"), configuration: config).user(named: "alice"))
    }
}

extension RedisReply {
    /// The first word of an error reply (NOAUTH, NOPERM, ...).
    var errorPrefix: String? {
        if case .error(let message) = self { return String(message.prefix { $0 != " " }) }
        return nil
    }
}
