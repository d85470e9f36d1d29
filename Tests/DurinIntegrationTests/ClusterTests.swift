import DurinCore
import DurinStore
import DurinTestSupport
import Foundation
import Glibc
import RedisClient
import XCTest

/// durin on a real Redis Cluster (three masters, three replicas on loopback): the
/// routing of the connection (MOVED, ASK), the key layout (every script's keys in
/// one slot, tokens in their user's), what needs more than one slot (client removal,
/// the user list, the events), and a resharding under load.
final class ClusterTests: XCTestCase {
    private var cluster: RedisCluster!

    override func setUpWithError() throws { cluster = try RedisCluster() }
    override func tearDown() { cluster?.stop() }

    /// MOVED updates the slot map; ASK sends one command, after ASKING, to the node
    /// importing the slot, while the map still names the old owner.
    func testRedirectionsAreFollowed() throws {
        let connection = try XCTUnwrap(RedisEndpoint.parse(cluster.url).connection() as? RedisClusterConnection)
        for i in 0..<200 { XCTAssertEqual(try connection.send("SET", "key:\(i)", "\(i)"), .status("OK")) }
        for i in 0..<200 { XCTAssertEqual(try connection.send("GET", "key:\(i)").string, "\(i)") }

        // Move one key's slot by hand, half-way: the key migrated, the slot not yet.
        let key = "key:7"
        let slot = HashSlot.of(key)
        XCTAssertEqual(Int(cluster.cli(cluster.nodes[0].port, "CLUSTER", "KEYSLOT", key)), slot, "our CRC16 is Redis's")
        let masters = cluster.masters()
        let source = try XCTUnwrap(masters.first { cluster.cli($0.port, "CLUSTER", "COUNTKEYSINSLOT", String(slot)) == "1" })
        let target = try XCTUnwrap(masters.first { $0.port != source.port })
        XCTAssertEqual(cluster.cli(target.port, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", source.id), "OK")
        XCTAssertEqual(cluster.cli(source.port, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", target.id), "OK")
        XCTAssertEqual(cluster.cli(source.port, "MIGRATE", "127.0.0.1", String(target.port), key, "0", "5000"), "OK")
        XCTAssertEqual(try connection.send("GET", key).string, "7", "ASK followed to the importing node")
        XCTAssertEqual(try connection.send("SET", key, "seven"), .status("OK"))

        // Finish the move: the old owner now answers MOVED, and the map follows.
        for port in [target.port, source.port] + masters.filter({ $0.port != source.port && $0.port != target.port }).map(\.port) {
            XCTAssertEqual(cluster.cli(port, "CLUSTER", "SETSLOT", String(slot), "NODE", target.id), "OK")
        }
        XCTAssertEqual(try connection.send("GET", key).string, "seven", "MOVED followed")
        XCTAssertEqual(try connection.send("GET", key).string, "seven")
        for i in 0..<200 where i != 7 { XCTAssertEqual(try connection.send("GET", "key:\(i)").string, "\(i)") }
        XCTAssertEqual(try connection.masters().count, 3)
    }

    /// Through nginx on a cluster: login, verify, refresh, sessions, logout and
    /// logoutall; a user's keys and tokens in one slot; the client throttle rate
    /// reaching the scripts as an argument; the user list, the events of many slots,
    /// and a client removal that revokes its tokens in every user's slot.
    func testTheServiceRunsOnACluster() throws {
        let stack = try Stack(settings: ["DURIN_REDIS_URL": cluster.url])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addClient("cli")
        try stack.durinctl(["client", "add", "slow", "--throttle", "2/m"]).checked()
        let users = (0..<12).map { "user\($0)" }
        for user in users { try stack.addUser(user, password: "pw-\(user)") }
        var tokens: [String: String] = [:]
        for user in users { tokens[user] = try stack.login(user, "pw-\(user)", client: "web") }

        // Users spread over the masters; each token sits in its user's slot.
        var portsUsed = Set<UInt16>()
        for user in users {
            let tokenKey = try stack.durinctl(["token", "key"], stdin: tokens[user]! + "\n").checked()
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let userKey = "durin:{\(KeySpace.userTag(user))}user:\(user)"
            let slot = cluster.cli(cluster.nodes[0].port, "CLUSTER", "KEYSLOT", userKey)
            XCTAssertEqual(cluster.cli(cluster.nodes[0].port, "CLUSTER", "KEYSLOT", tokenKey), slot, "\(user)'s token in their slot")
            let owner = try XCTUnwrap(cluster.masters().first { cluster.cli($0.port, "EXISTS", userKey) == "1" })
            XCTAssertEqual(cluster.cli(owner.port, "EXISTS", tokenKey), "1")
            portsUsed.insert(owner.port)
        }
        XCTAssertGreaterThan(portsUsed.count, 1, "12 users all landed on one master")

        let alice = users[0]
        let r = try stack.http.call("GET", "/api/auth/verify/", token: tokens[alice])
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.object["user"] as? String, alice)
        XCTAssertEqual(try stack.http.call("POST", "/api/auth/refresh/", token: tokens[alice]).status, 200)
        let cliToken = try stack.login(alice, "pw-\(alice)", client: "cli")
        let sessions = try stack.http.call("GET", "/api/auth/sessions/", token: tokens[alice])
        XCTAssertEqual(sessions.status, 200)
        XCTAssertEqual((sessions.json as? [[String: Any]])?.count, 2, sessions.text)
        let ids = ((sessions.json as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int }
        let tagNumber = KeySpace.tagNumber(KeySpace.userTag(alice))
        XCTAssertEqual(Set(ids.map { $0 % KeySpace.tagCount }), [tagNumber], "session ids end in the user's tag: \(ids)")
        XCTAssertEqual(Set(ids).count, 2)
        XCTAssertEqual(try stack.http.call("POST", "/api/auth/logout/", token: cliToken).status, 204)
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: cliToken).status, 401)

        // The client's own rate, passed to the script from the responder's copy.
        let slowToken = try stack.login(users[1], "pw-\(users[1])", client: "slow")
        let statuses = try (0..<3).map { _ in try stack.http.call("GET", "/api/throttled/", token: slowToken).status }
        XCTAssertEqual(statuses, [200, 200, 429])

        let listed = try stack.durinctl(["user", "list"]).checked()
        for user in users { XCTAssertTrue(listed.contains(user), "\(user) listed") }
        let events = try stack.durinctl(["events", "--last", "100"]).checked()
        XCTAssertEqual(events.components(separatedBy: "token_created").count - 1, users.count + 2, events)

        XCTAssertEqual(try stack.http.call("POST", "/api/auth/logoutall/", token: tokens[users[2]]).status, 204)
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: tokens[users[2]]).status, 401)

        // Removing a client reaches every user's slot.
        try stack.durinctl(["client", "remove", "web"]).checked()
        for user in users {
            XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: tokens[user]).status, 401, "\(user)'s web token")
        }
        let refused = try stack.http.call("POST", "/api/auth/login/", json: #"{"username":"user3","password":"pw-user3","client":"web"}"#)
        XCTAssertEqual(refused.status, 400, "no login for a removed client: \(refused.text)")
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: slowToken).status, 200, "other clients' tokens stay")
    }

    /// Slots move from one master to another (`redis-cli --cluster reshard`) while
    /// verify, login and refresh requests stream in: redirections and retries are the
    /// connection's business, and no request may fail.
    func testReshardingUnderLoad() throws {
        let stack = try Stack(settings: ["DURIN_REDIS_URL": cluster.url])
        defer { stack.stop() }
        try stack.addClient("web")
        let users = (0..<40).map { "load\($0)" }
        for user in users { try stack.addUser(user, password: "pw") }
        let tokens = try users.map { try stack.login($0, "pw", client: "web") }

        let port = stack.port
        let answers = Locked<[Int]>([])
        let failures = Locked<[String]>([])
        let stop = Locked<Bool>(false)
        // Four clients at once, each on its own slice of the users.
        let loads = (0..<4).map { worker in
            Thread {
                var i = worker
                while stop.get() != true {
                    let n = i % users.count
                    let http = RawHTTP(port: port)
                    let r: HTTPResult?
                    switch i % 10 {
                    case 0:
                        r = try? http.call("POST", "/api/auth/login/", json: #"{"username":"\#(users[n])","password":"pw","client":"web"}"#)
                    case 1: r = try? http.call("POST", "/api/auth/refresh/", token: tokens[n])
                    default: r = try? http.call("GET", "/api/auth/verify/", token: tokens[n])
                    }
                    let status = r?.status ?? 0
                    answers.update { $0?.append(status) }
                    if status != 200 { failures.update { $0?.append("\(i % 10): \(status) \(r?.text ?? "no answer")") } }
                    i += 4
                }
            }
        }
        loads.forEach { $0.start() }
        XCTAssertTrue(Processes.eventually { (answers.get()?.count ?? 0) > 50 }, "no load")

        let before = cluster.slotCounts()
        let masters = cluster.masters()
        let (from, to) = (masters[0], masters[1])
        let moved = 1500
        let reshard = try Processes.run(
            [
                "redis-cli", "--cluster", "reshard", "127.0.0.1:\(cluster.nodes[0].port)", "--cluster-from", from.id,
                "--cluster-to", to.id, "--cluster-slots", String(moved), "--cluster-yes", "--cluster-pipeline", "10",
            ],
            environment: ProcessInfo.processInfo.environment)
        XCTAssertEqual(reshard.status, 0, reshard.stdout.suffix(2000) + reshard.stderr)
        let during = answers.get()?.count ?? 0
        XCTAssertTrue(Processes.eventually { (answers.get()?.count ?? 0) > during + 50 }, "load went on after the move")
        stop.set(true)
        while !loads.allSatisfy(\.isFinished) { usleep(10_000) }

        let after = cluster.slotCounts()
        XCTAssertEqual(after[from.port], (before[from.port] ?? 0) - moved, "slots left \(from.port)")
        XCTAssertEqual(after[to.port], (before[to.port] ?? 0) + moved, "and reached \(to.port)")
        let all = answers.get() ?? []
        let failed = failures.get() ?? []
        print("cluster reshard: \(moved) slots moved under load; \(all.count) requests, \(failed.count) failed")
        XCTAssertEqual(failed, [], "requests failed during the resharding")
        for (user, token) in zip(users, tokens) {
            XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: token).status, 200, "\(user) after the move")
        }
    }

    /// A master dies (SIGKILL) under verify load: its replica takes over after the
    /// node timeout (2 s here), the checks of the users in its slots answer 503 until
    /// then and 200 after, everyone else's never stop, and a revocation confirmed by
    /// a replica (DURIN_REDIS_MIN_REPLICAS=1) survives. This is what a node failure
    /// costs (docs/capacity.md).
    func testAMastersDeathCostsItsShareForTheFailoverWindow() throws {
        let stack = try Stack(settings: ["DURIN_REDIS_URL": cluster.url, "DURIN_REDIS_MIN_REPLICAS": "1"])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addClient("cli")
        let users = (0..<30).map { "fail\($0)" }
        for user in users { try stack.addUser(user, password: "pw") }
        let tokens = try users.map { try stack.login($0, "pw", client: "web") }
        let revoked = try stack.login(users[0], "pw", client: "cli")
        XCTAssertEqual(try stack.http.call("POST", "/api/auth/logout/", token: revoked).status, 204)

        let port = stack.port
        let answers = Locked<[(at: Date, user: Int, status: Int, seconds: Double)]>([])
        let stop = Locked<Bool>(false)
        let load = Thread {
            var i = 0
            while stop.get() != true {
                let n = i % tokens.count
                let started = Date()
                let status = (try? RawHTTP(port: port).call("GET", "/api/auth/verify/", token: tokens[n], timeout: 10))?.status ?? 0
                answers.update { $0?.append((Date(), n, status, Date().timeIntervalSince(started))) }
                i += 1
            }
        }
        load.start()
        XCTAssertTrue(Processes.eventually { (answers.get()?.count ?? 0) > 100 }, "no load")
        let victim = try XCTUnwrap(cluster.masters().first)
        let killed = Date()
        cluster.kill(port: victim.port)
        XCTAssertTrue(
            Processes.eventually(timeout: 60) {
                let masters = self.cluster.masters()
                return masters.count == 3 && !masters.contains { $0.port == victim.port }
            }, "no replica took over: \(cluster.clusterNodes())")
        let promoted = Date()
        XCTAssertTrue(
            Processes.eventually(timeout: 30) {
                let recent = (answers.get() ?? []).filter { $0.at > max(promoted, Date().addingTimeInterval(-1)) }
                return recent.count > tokens.count && recent.allSatisfy { $0.status == 200 }
            }, "verify/ never answered 200 for everyone again")
        stop.set(true)
        while !load.isFinished { usleep(10_000) }

        let after = (answers.get() ?? []).filter { $0.at >= killed }
        let slowest = after.map(\.seconds).max() ?? 0
        XCTAssertEqual(
            Set(after.map(\.status)).subtracting([200, 503]), [], "only 200 or 503 during the failover (slowest answer \(slowest) s)")
        let hit = Set(after.filter { $0.status != 200 }.map(\.user))
        let window = (after.last { $0.status != 200 }?.at ?? killed).timeIntervalSince(killed)
        print(
            "cluster failover: verify/ answered 200 for everyone again \(String(format: "%.2f", window)) s after a master's"
                + " SIGKILL; \(hit.count) of \(users.count) users saw 503 meanwhile, the others none; slowest answer"
                + " \(String(format: "%.2f", slowest)) s")
        XCTAssertGreaterThan(hit.count, 0, "the victim served some of the users")
        XCTAssertLessThan(hit.count, users.count, "only the victim's share is hit")
        XCTAssertLessThan(window, 30)
        for token in tokens { XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: token).status, 200) }
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: revoked).status, 401, "the revocation survived")
    }

    /// `durinctl migrate --from` moves a one-server keyspace into the cluster with its
    /// live tokens: through nginx on the cluster every token verifies with its user,
    /// client, expiry and session id, re-login hands back the same token, and refresh,
    /// logout and logoutall work on tokens whose hash lives under their user's tag.
    /// A second run after the switch brings the server's new tokens and nothing the
    /// cluster revoked meanwhile.
    func testAOneServerKeyspaceMovesInWithItsSessions() throws {
        let secret = "3f9a1c7e5b2d8046f1e3a5c7b9d0e2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4f6"
        let old = try Stack(settings: ["DURIN_SECRET_KEY": secret])
        defer { old.stop() }
        try old.addClient("web")
        try old.addClient("cli")
        try old.addClient("forever", ttl: "never")
        let users = (0..<10).map { "mover\($0)" }
        for user in users { try old.addUser(user, password: "pw-\(user)") }
        var tokens: [String: String] = [:]
        for user in users { tokens[user + "/web"] = try old.login(user, "pw-\(user)", client: "web") }
        for user in users.prefix(5) { tokens[user + "/cli"] = try old.login(user, "pw-\(user)", client: "cli") }
        tokens["mover0/forever"] = try old.login("mover0", "pw-mover0", client: "forever")
        let loggedOut = try old.login("mover5", "pw-mover5", client: "cli")
        XCTAssertEqual(try old.http.call("POST", "/api/auth/logout/", token: loggedOut).status, 204)
        var before: [String: String] = [:]
        for (pair, token) in tokens { before[pair] = try old.http.call("GET", "/api/auth/verify/", token: token).text }
        let oldSessions = try old.http.call("GET", "/api/auth/sessions/", token: tokens["mover0/web"]).json as? [[String: Any]]
        let oldIDs = Set((oldSessions ?? []).compactMap { $0["id"] as? Int })
        XCTAssertEqual(oldIDs.count, 3)

        let moveEnv = [
            "DURIN_REDIS_URL": cluster.url, "DURIN_SECRET_KEY": secret,
            "DURIN_MIGRATE_FROM_PASSWORD": old.environment["REDISCLI_AUTH"] ?? "",
        ]
        let source = "unix://\(old.state)/redis.sock"
        func migrate(_ extra: [String] = []) throws -> [String: Any] {
            let out = try old.durinctl(["migrate", "--from", source, "--json"] + extra, env: moveEnv).checked()
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], out)
        }
        let dry = try migrate(["--dry-run"])
        XCTAssertEqual(dry["tokens"] as? Int, tokens.count, "\(dry)")
        XCTAssertEqual(cluster.masters().map { cluster.cli($0.port, "DBSIZE") }, ["0", "0", "0"], "a dry run writes nothing")
        let first = try migrate()
        XCTAssertEqual(first["tokens"] as? Int, tokens.count, "\(first)")
        XCTAssertEqual(first["users"] as? Int, users.count)
        XCTAssertEqual(first["clients"] as? Int, 3)
        XCTAssertGreaterThan(first["home_pointers"] as? Int ?? 0, tokens.count - 3, "digests drawn on one server rarely fit")

        let new = try Stack(settings: ["DURIN_REDIS_URL": cluster.url, "DURIN_SECRET_KEY": secret])
        defer { new.stop() }
        for (pair, token) in tokens {
            XCTAssertEqual(try new.http.call("GET", "/api/auth/verify/", token: token).text, before[pair], "\(pair) verifies as before")
        }
        XCTAssertEqual(try new.http.call("GET", "/api/auth/verify/", token: loggedOut).status, 401, "a logout stays")
        let newSessions = try new.http.call("GET", "/api/auth/sessions/", token: tokens["mover0/web"]).json as? [[String: Any]]
        XCTAssertEqual(Set((newSessions ?? []).compactMap { $0["id"] as? Int }), oldIDs, "the same session ids")
        XCTAssertEqual(try new.login("mover1", "pw-mover1", client: "web"), tokens["mover1/web"], "re-login hands back the same token")

        // Refresh renews the home pointer with the token.
        let keys = KeySpace(prefix: "durin:", cluster: true)
        let refreshed = try new.http.call("POST", "/api/auth/refresh/", token: tokens["mover2/web"])
        XCTAssertEqual(refreshed.status, 200)
        let digest = Token.digest(of: tokens["mover2/web"]!)
        if !digest.hasPrefix(KeySpace.userTag("mover2")) {
            let expiry = try XCTUnwrap(Int64(new.redisCLICluster(cluster, "HGET", keys.token(digest, of: "mover2"), "e")))
            let pointerExpiry = try XCTUnwrap(Int64(new.redisCLICluster(cluster, "PEXPIRETIME", keys.tokenHome(digest))))
            XCTAssertEqual(
                pointerExpiry, expiry + 86_400_000, "the pointer lives as long as the token's hash (expiry + DURIN_EXPIRED_GRACE)")
        }
        XCTAssertEqual(try new.http.call("GET", "/api/auth/verify/", token: tokens["mover2/web"]).status, 200)
        XCTAssertEqual(try new.http.call("POST", "/api/auth/logout/", token: tokens["mover3/web"]).status, 204)
        XCTAssertEqual(try new.http.call("GET", "/api/auth/verify/", token: tokens["mover3/web"]).status, 401)
        XCTAssertEqual(try new.http.call("POST", "/api/auth/logoutall/", token: tokens["mover0/web"]).status, 204)
        for client in ["web", "cli", "forever"] {
            XCTAssertEqual(try new.http.call("GET", "/api/auth/verify/", token: tokens["mover0/\(client)"]).status, 401)
        }
        let fresh = try new.login("mover6", "pw-mover6", client: "cli")
        let freshID = try XCTUnwrap(new.http.call("GET", "/api/auth/sessions/", token: fresh).json as? [[String: Any]])
            .compactMap { $0["id"] as? Int }.max()
        XCTAssertGreaterThan(freshID ?? 0, oldIDs.max() ?? 0, "ids issued after the move never repeat a moved one")

        // Before the switch the server issued one more token, logged one out and
        // deactivated a user; the second run brings all three, and nothing the
        // cluster revoked.
        let late = try old.login("mover7", "pw-mover7", client: "cli")
        XCTAssertEqual(try old.http.call("POST", "/api/auth/logout/", token: tokens["mover4/web"]).status, 204)
        try old.durinctl(["user", "deactivate", "mover8"]).checked()
        let second = try migrate()
        XCTAssertEqual(second["tokens"] as? Int, 1, "\(second)")
        XCTAssertEqual(second["gone"] as? Int, 4, "mover3's logout and mover0's three: \(second)")
        XCTAssertEqual(second["revoked"] as? Int, 1, "mover4's logout on the server: \(second)")
        XCTAssertEqual(second["deactivated"] as? Int, 1, "\(second)")
        XCTAssertEqual(try new.http.call("GET", "/api/auth/verify/", token: late).status, 200)
        XCTAssertEqual(try new.http.call("GET", "/api/auth/verify/", token: tokens["mover4/web"]).status, 401)
        XCTAssertEqual(try new.http.call("GET", "/api/auth/verify/", token: tokens["mover8/web"]).detail, "User inactive or deleted.")
        XCTAssertEqual(try new.http.call("GET", "/api/auth/verify/", token: tokens["mover3/web"]).status, 401)
        XCTAssertEqual(try new.http.call("GET", "/api/auth/verify/", token: tokens["mover0/web"]).status, 401)
    }

    /// A slot caught half-way by a migration: the user's record has reached the new
    /// node, their token has not. A script must not run there (the token would read as
    /// missing, and logoutall would drop the index entry and leave the token valid):
    /// it waits for the slot to finish moving, and answers 503 if it does not in time.
    func testAScriptNeverRunsOnAHalfMigratedSlot() throws {
        let stack = try Stack(settings: ["DURIN_REDIS_URL": cluster.url])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("hal", password: "pw")
        let token = try stack.login("hal", "pw", client: "web")
        let keys = KeySpace(prefix: "durin:", cluster: true)
        let userKey = keys.user("hal")
        let slot = HashSlot.of(userKey)
        XCTAssertEqual(HashSlot.of(keys.token(Token.digest(of: token))), slot, "the token is in its user's slot")
        let masters = cluster.masters()
        let source = try XCTUnwrap(masters.first { cluster.cli($0.port, "EXISTS", userKey) == "1" })
        let target = try XCTUnwrap(masters.first { $0.port != source.port })
        XCTAssertEqual(cluster.cli(target.port, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", source.id), "OK")
        XCTAssertEqual(cluster.cli(source.port, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", target.id), "OK")
        XCTAssertEqual(cluster.cli(source.port, "MIGRATE", "127.0.0.1", String(target.port), userKey, "0", "5000"), "OK")

        let r = try stack.http.call("POST", "/api/auth/logoutall/", token: token)
        XCTAssertEqual(r.status, 503, "logoutall ran on a half-migrated slot: \(r.status) \(r.text)")

        // The rest of the slot moves, and the slot with it.
        let rest = cluster.cli(source.port, "CLUSTER", "GETKEYSINSLOT", String(slot), "100")
            .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        XCTAssertFalse(rest.isEmpty)
        XCTAssertEqual(cluster.cli(source.port, ["MIGRATE", "127.0.0.1", String(target.port), "", "0", "5000", "KEYS"] + rest), "OK")
        for master in masters {
            XCTAssertEqual(cluster.cli(master.port, "CLUSTER", "SETSLOT", String(slot), "NODE", target.id), "OK")
        }
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: token).status, 200, "not logged out by the 503")
        XCTAssertEqual(try stack.http.call("POST", "/api/auth/logoutall/", token: token).status, 204)
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: token).status, 401)
    }
}
