import DurinCore
import DurinStore
import DurinTestSupport
import XCTest

/// A token sealed under another secret than the service's cannot be handed back:
/// its user silently gets a new token at the next login. The service records its
/// secret's fingerprint, and a tool (durinctl) seals only under the same secret.
final class SealingSecretTests: XCTestCase {
    var redis: RedisServer!

    override func setUpWithError() throws { redis = try RedisServer() }
    override func tearDown() { redis?.stop() }

    func config(secret: String) -> Configuration {
        var config = Configuration()
        config.secretKey = Array(secret.utf8)
        return config
    }

    func store(_ secret: String, _ role: TokenStore.SealingRole) -> TokenStore {
        TokenStore(connection: redis.connection(), configuration: config(secret: secret), sealing: role)
    }

    func seed() throws {
        let admin = AdminStore(connection: redis.connection(), configuration: config(secret: "service-secret-0123456789abcdef"))
        try admin.addClient(ClientRecord(name: "web", tokenTTL: .seconds(3600), throttleRate: nil, created: 0))
        try admin.addUser(UserRecord(username: "alice", passwordHash: "!", isActive: true))
    }

    func testAToolSealsOnlyUnderTheServicesSecret() throws {
        try seed()
        let service = "service-secret-0123456789abcdef"
        let other = "another-secret-0123456789abcdef"
        XCTAssertFalse(try store(service, .service).recordSealingSecret(), "nothing was recorded before")

        XCTAssertThrowsError(try store(other, .tool).login(user: "alice", client: "web", mode: .keep)) { error in
            XCTAssertEqual(error as? StoreError, .otherSealingSecret)
        }
        XCTAssertNil(try redis.connection().send("HGET", "durin:user:alice", "t:web").string, "the refused login wrote no token")
        XCTAssertThrowsError(try store(other, .tool).agreeOnSealingSecret())

        guard case .success(let issued) = try store(service, .tool).login(user: "alice", client: "web", mode: .keep) else {
            return XCTFail("the service's secret seals")
        }
        // The service hands the same token back: it opens what the tool sealed.
        guard case .success(let again) = try store(service, .service).login(user: "alice", client: "web", mode: .keep) else {
            return XCTFail("login")
        }
        XCTAssertEqual(again.token.value, issued.token.value)
    }

    func testTheServiceRecordsItsSecretAndSaysWhenItReplacedAnother() throws {
        try seed()
        let first = "first-secret-0123456789abcdefgh"
        let second = "second-secret-0123456789abcdefg"
        XCTAssertFalse(try store(first, .service).recordSealingSecret())
        XCTAssertFalse(try store(first, .service).recordSealingSecret(), "the same secret again")
        XCTAssertTrue(try store(second, .service).recordSealingSecret(), "DURIN_SECRET_KEY changed")
        XCTAssertNoThrow(try store(second, .tool).agreeOnSealingSecret())
        XCTAssertThrowsError(try store(first, .tool).agreeOnSealingSecret())
        // The fingerprint names the secret without revealing it.
        let recorded = try XCTUnwrap(try redis.connection().send("GET", "durin:sealing").string)
        XCTAssertEqual(recorded, TokenSeal(secret: Array(second.utf8)).fingerprint)
        XCTAssertEqual(recorded.count, 32)
        XCTAssertFalse(recorded.contains(second))
    }

    func testBeforeAnyServiceTheFirstToolsSecretIsRecorded() throws {
        try seed()
        let mine = "tool-secret-0123456789abcdefghij"
        XCTAssertNoThrow(try store(mine, .tool).agreeOnSealingSecret())
        XCTAssertThrowsError(try store("other-tool-secret-0123456789abcd", .tool).agreeOnSealingSecret())
        // The secret kept in Redis (no DURIN_SECRET_KEY) is one secret like any other.
        let keptInRedis = TokenStore(connection: redis.connection(), configuration: Configuration(), sealing: .tool)
        XCTAssertThrowsError(try keptInRedis.agreeOnSealingSecret())
    }

    func testADryRunComparesAndRecordsNothing() throws {
        let mine = "tool-secret-0123456789abcdefghij"
        let other = "other-tool-secret-0123456789abcd"
        XCTAssertNoThrow(try store(mine, .tool).agreeOnSealingSecret(writing: false))
        XCTAssertEqual(try redis.connection().send("DBSIZE").int, 0, "nothing recorded, no secret made")
        XCTAssertNoThrow(try store(mine, .service).recordSealingSecret())
        XCTAssertNoThrow(try store(mine, .tool).agreeOnSealingSecret(writing: false))
        XCTAssertThrowsError(try store(other, .tool).agreeOnSealingSecret(writing: false))
    }
}
