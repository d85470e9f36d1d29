import DurinCore
import DurinMigration
import DurinTestSupport
import RedisClient
import XCTest

@testable import DurinStore

/// Key names are written in one place, KeySpace: the scripts build theirs with Lua
/// functions generated from it, never by joining strings, and each generated
/// function gives the name the Swift builder gives, on one server and on a cluster.
final class KeyNamesTests: XCTestCase {
    var redis: RedisServer!

    override func setUpWithError() throws { redis = try RedisServer() }
    override func tearDown() { redis?.stop() }

    /// Every script's own text (after the shared helpers and builders) names no key
    /// segment and joins nothing to the prefix.
    func testNoScriptBuildsAKeyByItself() {
        let segments = [
            KeySpace.Name.user, KeySpace.Name.token, KeySpace.Name.tokenHome, KeySpace.Name.client,
            KeySpace.Name.issuer, KeySpace.Name.throttle, KeySpace.Name.importedMark, KeySpace.Name.movedMark,
            KeySpace.Name.layout1Token, KeySpace.Name.layout1Expired, KeySpace.Name.tokenSequence,
        ]
        // (Names without a colon, `clients` say, are also field names; a key of that
        // name could only be made by joining it to P, which is checked below.)
        for script in Script.all + MigrationScripts.all + [RedisRights.probe] {
            let prefix = "#!lua\n" + Script.helpers
            XCTAssertTrue(script.source.hasPrefix(prefix), "every script starts with the shared helpers")
            let own = String(script.source.dropFirst(prefix.count))
            XCTAssertFalse(own.contains("P .."), "a script joins a key to the prefix itself:\n\(own)")
            for segment in segments {
                XCTAssertFalse(own.contains("'\(segment)"), "a script writes the key segment '\(segment)' itself:\n\(own)")
            }
        }
        // The helpers themselves build keys only through the builders too.
        let helpers = Script.helpers.replacingOccurrences(of: KeySpace.luaBuilders, with: "")
        XCTAssertFalse(helpers.contains("P .."), helpers)
    }

    /// The generated Lua builders against KeySpace's Swift ones, run by Redis itself
    /// on a group's prefix as a script would be.
    func testTheLuaBuildersGiveKeySpacesNames() throws {
        let probe = Script(
            parameters: ["name", "digest", "client"],
            #"""
            return {userKey(name), tokenKey(digest), homeKey(digest), clientKey(name), issuerKey(digest),
                    throttleKey(name, client), importedKey(digest), movedKey(digest), layout1TokenKey(digest),
                    layout1ExpiredKey(digest), layout1IndexKey(name), CLIENTS, USERS, ISSUERS, EVENTS, TOKEN_SEQUENCE,
                    indexField(client)}
            """#)
        for cluster in [false, true] {
            let keys = KeySpace(prefix: "durin:", cluster: cluster)
            let (name, client) = ("alice", "web")
            // A digest in alice's group, as login draws them on a cluster.
            let digest = KeySpace.userTag(name) + "restofthedigest0"
            func lua(_ group: KeyGroup) throws -> [String] {
                let header = ScriptContext(keys: keys, eventsMaxLength: 10).header(group: group, now: 1)
                let reply = try redis.connection().run(probe, args: header + [name, digest, client])
                return (reply.array ?? []).compactMap(\.string)
            }
            let user = try lua(.user(name))
            XCTAssertEqual(user[0], keys.user(name), "cluster: \(cluster)")
            XCTAssertEqual(user[1], keys.token(digest, of: name))
            XCTAssertEqual(user[1], keys.token(digest), "a token drawn into its user's group")
            XCTAssertEqual(user[5], keys.throttle(user: name, client: client))
            XCTAssertEqual(user[7], keys.movedMark(digest, of: name))
            XCTAssertEqual(user[14], keys.prefix(of: .user(name)) + KeySpace.Name.events)
            XCTAssertEqual(user[16], KeySpace.tokenIndexField(client))
            let token = try lua(.token(digest))
            XCTAssertEqual(token[2], keys.tokenHome(digest))
            XCTAssertEqual(token[6], keys.importedMark(digest))
            let clients = try lua(.clients)
            XCTAssertEqual(clients[3], keys.client(name))
            XCTAssertEqual(clients[11], keys.clients)
            let issuers = try lua(.issuers)
            XCTAssertEqual(issuers[4], keys.issuer(digest))
            XCTAssertEqual(issuers[13], keys.issuers)
            if !cluster {
                let global = try lua(.global)
                XCTAssertEqual(global[12], keys.users)
                XCTAssertEqual(global[14], keys.events)
                XCTAssertEqual(global[15], keys.tokenSequence)
                XCTAssertEqual(global[8], keys.layout1.token(digest))
                XCTAssertEqual(global[9], keys.layout1.expired(digest))
                XCTAssertEqual(global[10], keys.layout1.userTokens(name))
            } else {
                XCTAssertEqual(try lua(.users)[12], keys.users)
                XCTAssertEqual(try lua(.tag(KeySpace.userTag(name)))[15], keys.tokenSequence(tag: KeySpace.userTag(name)))
            }
        }
    }
}
