import DurinCore
import RedisClient

/// Clients, users and token listings: what `durinctl` manages, and the reads the
/// login path needs. Writes that touch several keys go through scripts.
public final class AdminStore {
    public let connection: any RedisCommandConnection
    public let keys: KeySpace
    let context: ScriptContext

    public init(connection: any RedisCommandConnection, configuration: Configuration) {
        self.connection = connection
        keys = KeySpace(prefix: configuration.keyPrefix)
        context = ScriptContext(prefix: configuration.keyPrefix, eventsMaxLength: configuration.eventsMaxLength)
    }

    func run(_ script: Script, keys: [String] = [], _ args: [String]) throws(Failure) -> RedisReply {
        do { return try connection.run(script, keys: keys, args: context.header(now: WallClock.nowMillis()) + args) } catch {
            throw .store(error)
        }
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case exists(String)
        case notFound(String)
        case store(StoreError)

        public var description: String {
            switch self {
            case .exists(let what): return "\(what) already exists"
            case .notFound(let what): return "no \(what)"
            case .store(let e): return e.description
            }
        }
    }

    // MARK: Clients

    public func client(named name: String) throws(StoreError) -> ClientRecord? {
        ClientRecord(fields: try connection.call(["HGETALL", keys.client(name)]).fieldMap)
    }

    public func clients() throws(StoreError) -> [ClientRecord] {
        let names = (try connection.call(["SMEMBERS", keys.clients]).array ?? []).compactMap(\.string).sorted()
        var out: [ClientRecord] = []
        for name in names { if let c = try client(named: name) { out.append(c) } }
        return out
    }

    public func addClient(_ client: ClientRecord) throws(Failure) {
        let added = try run(.addClient, [client.name, client.tokenTTL.storedValue,
                                         client.throttleRate?.description ?? "", String(client.created)])
        if added.int != 1 { throw .exists("client \(client.name)") }
    }

    public func updateClient(_ name: String, ttl: TokenTTL?, throttle: ThrottleRate??) throws(Failure) {
        var pairs: [String] = []
        if let ttl { pairs += ["token_ttl", ttl.storedValue] }
        if let throttle { pairs += ["throttle_rate", throttle?.description ?? ""] }
        try setFields(key: keys.client(name), pairs, what: "client \(name)")
    }

    /// Removes the client and every token issued to it. Returns how many tokens went.
    @discardableResult
    public func removeClient(_ name: String) throws(Failure) -> Int {
        let n = try run(.removeClient, [name]).int ?? -1
        if n < 0 { throw .notFound("client \(name)") }
        return Int(n)
    }

    // MARK: Users

    public func user(named name: String) throws(StoreError) -> UserRecord? {
        UserRecord(fields: try connection.call(["HGETALL", keys.user(name)]).fieldMap)
    }

    public func users() throws(StoreError) -> [UserRecord] {
        let names = (try connection.call(["SMEMBERS", keys.users]).array ?? []).compactMap(\.string).sorted()
        var out: [UserRecord] = []
        for name in names { if let u = try user(named: name) { out.append(u) } }
        return out
    }

    public func addUser(_ user: UserRecord) throws(Failure) {
        var args = [user.username, "username", user.username, "password", user.passwordHash,
                    "is_active", user.isActive ? "1" : "0", "created", String(WallClock.nowMillis())]
        for (k, v) in user.profile.sorted(by: { $0.key < $1.key }) { args += [k, v] }
        let added = try run(.addUser, args)
        if added.int != 1 { throw .exists("user \(user.username)") }
    }

    public func setPasswordHash(_ name: String, hash: String) throws(Failure) {
        try setFields(key: keys.user(name), ["password", hash], what: "user \(name)")
    }

    /// Deactivated users keep their tokens, which answer "User inactive or deleted."
    public func setActive(_ name: String, _ active: Bool) throws(Failure) {
        if try run(.setActive, [name, active ? "1" : "0"]).int != 1 { throw .notFound("user \(name)") }
    }

    /// Removes the user and their tokens. Returns how many tokens went.
    @discardableResult
    public func removeUser(_ name: String) throws(Failure) -> Int {
        let n = try run(.removeUser, [name]).int ?? -1
        if n < 0 { throw .notFound("user \(name)") }
        return Int(n)
    }

    // MARK: Tokens

    /// Live tokens, optionally of one user and/or client, ordered by session id.
    public func tokens(user: String? = nil, client: String? = nil) throws(StoreError) -> [TokenRecord] {
        let usernames: [String]
        if let user { usernames = [user] } else {
            usernames = (try connection.call(["SMEMBERS", keys.users]).array ?? []).compactMap(\.string)
        }
        var found: [TokenRecord] = []
        for name in usernames {
            found += try connection.liveTokens(of: name, keys: keys).map(\.record).filter { client == nil || $0.client == client }
        }
        return found.sorted { $0.id < $1.id }
    }

    // MARK: Internals

    private func setFields(key: String, _ pairs: [String], what: String) throws(Failure) {
        guard !pairs.isEmpty else { return }
        if try run(.setExisting, keys: [key], pairs).int != 1 { throw .notFound(what) }
    }
}
