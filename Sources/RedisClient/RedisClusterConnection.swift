import Glibc

/// A connection to a Redis Cluster: each command goes to the master that owns its
/// key's hash slot, over one `RedisConnection` per node.
///
/// The slot map is read with `CLUSTER SLOTS` from any known node. Redirections are
/// followed as the cluster specification asks: `MOVED` updates the slot's owner and
/// schedules a full map refresh (a resharding or a failover moved it); `ASK` sends
/// this one command, after `ASKING`, to the node importing the slot; `TRYAGAIN` (a
/// multi-key command whose keys are split mid-migration) and `CLUSTERDOWN` are
/// retried after a short pause. A script is never sent after an ASK: on the importing
/// node the keys it names but does not declare (durin's scripts compute them) and
/// that have not arrived yet would read as missing, so it waits, like TRYAGAIN, for
/// the slot to finish moving. A node that cannot be reached makes the map be read
/// again, and the command is retried only if its slot now has another owner (a
/// failover) and the failure was not a timeout: a command that timed out may have
/// run, and one that ran on the old owner may have reached the new one.
///
/// Not thread-safe, like `RedisConnection`: one per worker thread.
public final class RedisClusterConnection: RedisCommandConnection {
    private let seeds: [RedisEndpoint.Node]
    private let username: String?
    private let password: String?
    private let timeoutMilliseconds: Int
    /// The owner of each slot, as "host:port"; empty until the map is read.
    private var owners: [String] = []
    private var nodes: [String: RedisConnection] = [:]
    private var mapIsStale = false
    /// Where keyless commands go: the node of the previous command, so that `WAIT`
    /// follows the write it waits for.
    private var lastNode: String?
    /// Bumped whenever the map is read or a node connection is made.
    public private(set) var generation = 0

    /// How many redirections or retries one command may take.
    static let maxAttempts = 16

    public init(seeds: [RedisEndpoint.Node], username: String?, password: String?, timeoutMilliseconds: Int) {
        self.seeds = seeds
        self.username = username
        self.password = password
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    public var isConnected: Bool { !owners.isEmpty && nodes.values.contains { $0.isConnected } }

    public func send(_ args: [[UInt8]]) throws(RedisError) -> RedisReply {
        let slot = Self.routingKey(args).map { HashSlot.of($0) }
        var target = try node(for: slot)
        var asking = false
        var attempt = 0
        while true {
            attempt += 1
            let connection = self.connection(to: target)
            let reply: RedisReply
            do {
                if asking { _ = try connection.send(["ASKING"]) }
                reply = try connection.send(args)
            } catch {
                // A dead node: read the map again; retry only where the slot moved.
                guard attempt < Self.maxAttempts, let slot, !asking, !connection.lastFailureTimedOut else { throw error }
                try refreshMap(avoiding: target)
                let owner = try node(for: slot)
                guard owner != target else { throw error }
                target = owner
                asking = false
                continue
            }
            guard case .error(let message) = reply, attempt < Self.maxAttempts else {
                lastNode = target
                if mapIsStale { try? refreshMap() }
                return reply
            }
            switch Redirection(message) {
            case .moved(let movedSlot, let address):
                if owners.count == HashSlot.count { owners[movedSlot] = address }
                mapIsStale = true
                target = address
                asking = false
            case .ask(let address) where !Self.isScript(args):
                target = address
                asking = true
            case .ask, .retryLater:
                // (A script answered ASK waits here too, for the slot to finish moving.)
                pause(attempt)
                if message.hasPrefix("CLUSTERDOWN") { try? refreshMap() }
                if let slot { target = try node(for: slot) }
                asking = false
            case nil:
                lastNode = target
                return reply
            }
        }
    }

    /// Sends the commands in one round trip to the node of the first one's key. The
    /// commands of one call share a slot (durin's keys of one user or token do); any
    /// that are redirected all the same are sent again one by one, in order.
    public func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisReply] {
        guard let first = commands.first else { return [] }
        let bytes = first.map { Array($0.utf8) }
        let target = try node(for: Self.routingKey(bytes).map { HashSlot.of($0) })
        // A failure is not retried as a batch: some commands may have run.
        var replies = try connection(to: target).pipeline(commands)
        for (index, reply) in replies.enumerated() {
            if case .error(let message) = reply, Redirection(message) != nil {
                replies[index] = try send(commands[index])
            }
        }
        lastNode = target
        return replies
    }

    /// One connection per master, for what must visit every node (SCAN).
    public func masters() throws(RedisError) -> [any RedisCommandConnection] {
        if owners.isEmpty || mapIsStale { try refreshMap() }
        return Set(owners).sorted().map { connection(to: $0) }
    }

    // MARK: - The slot map

    private func node(for slot: Int?) throws(RedisError) -> String {
        if owners.isEmpty { try refreshMap() }
        if let slot { return owners[slot] }
        return lastNode ?? owners[0]
    }

    /// Reads `CLUSTER SLOTS` from the first node that answers: known nodes first
    /// (`avoiding` the one that just failed), then the seeds of the URL.
    private func refreshMap(avoiding failed: String? = nil) throws(RedisError) {
        var candidates = Array(nodes.keys).filter { $0 != failed }.sorted()
        candidates += seeds.map(\.description).filter { !candidates.contains($0) }
        if let failed { candidates.append(failed) }
        var reasons: [String] = []
        for address in candidates {
            let connection = self.connection(to: address)
            let reply: RedisReply
            do { reply = try connection.send(["CLUSTER", "SLOTS"]) } catch {
                if case .rejected = error { throw error }
                reasons.append("\(address): \(error)")
                continue
            }
            guard let map = Self.slotMap(reply, queried: address) else {
                reasons.append("\(address): CLUSTER SLOTS answered \(reply)")
                continue
            }
            owners = map
            mapIsStale = false
            generation += 1
            // Connections to nodes that own nothing any more are closed.
            let live = Set(map)
            for (address, connection) in nodes where !live.contains(address) {
                connection.disconnect()
                nodes[address] = nil
            }
            if let last = lastNode, !live.contains(last) { lastNode = nil }
            return
        }
        throw .unavailable("no cluster node gave its slot map: \(reasons.joined(separator: "; "))")
    }

    /// A `CLUSTER SLOTS` reply as the owner of each slot; nil unless every slot is
    /// served (a cluster that is still forming or has lost a shard).
    static func slotMap(_ reply: RedisReply, queried: String) -> [String]? {
        guard let ranges = reply.array else { return nil }
        var owners = [String?](repeating: nil, count: HashSlot.count)
        for range in ranges {
            guard let items = range.array, items.count >= 3, let first = items[0].int, let last = items[1].int,
                  let master = items[2].array, master.count >= 2, let port = master[1].int,
                  first >= 0, last < HashSlot.count, first <= last else { return nil }
            var host = master[0].string ?? ""
            // An empty or "?" address means "the address you asked".
            if host.isEmpty || host == "?" { host = RedisEndpoint.Node.parse(queried)?.host ?? host }
            let address = RedisEndpoint.Node(host: host, port: Int(port)).description
            for slot in Int(first)...Int(last) { owners[slot] = address }
        }
        let complete = owners.compactMap { $0 }
        return complete.count == HashSlot.count ? complete : nil
    }

    private func connection(to address: String) -> RedisConnection {
        if let existing = nodes[address] { return existing }
        let node = RedisEndpoint.Node.parse(address) ?? RedisEndpoint.Node(host: address, port: 6379)
        let endpoint = RedisEndpoint(address: .tcp(host: node.host, port: node.port), username: username, password: password)
        let made = RedisConnection(endpoint: endpoint, timeoutMilliseconds: timeoutMilliseconds)
        nodes[address] = made
        generation += 1
        return made
    }

    private func pause(_ attempt: Int) {
        var pause = timespec(tv_sec: 0, tv_nsec: min(attempt, 10) * 20_000_000)
        nanosleep(&pause, nil)
    }

    // MARK: - Routing

    static func isScript(_ args: [[UInt8]]) -> Bool {
        guard let name = args.first.map({ String(decoding: $0, as: UTF8.self).uppercased() }) else { return false }
        return name.hasPrefix("EVAL") || name.hasPrefix("FCALL")
    }

    /// The key whose slot decides where a command goes; nil for keyless commands.
    static func routingKey(_ args: [[UInt8]]) -> [UInt8]? {
        guard let name = args.first.map({ String(decoding: $0, as: UTF8.self).uppercased() }) else { return nil }
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL":
            guard args.count > 3, let count = Int(String(decoding: args[2], as: UTF8.self)), count > 0 else { return nil }
            return args[3]
        case "XREAD", "XREADGROUP":
            guard let streams = args.firstIndex(where: { String(decoding: $0, as: UTF8.self).uppercased() == "STREAMS" }),
                  streams + 1 < args.count else { return nil }
            return args[streams + 1]
        case "PING", "AUTH", "SELECT", "SCRIPT", "CLIENT", "WAIT", "ROLE", "SCAN", "INFO", "CLUSTER", "SUBSCRIBE",
             "UNSUBSCRIBE", "ASKING", "READONLY", "ACL", "CONFIG", "MULTI", "EXEC", "DBSIZE", "HELLO", "ECHO", "TIME":
            return nil
        default:
            return args.count > 1 ? args[1] : nil
        }
    }
}

/// A cluster error reply that says where to go instead.
enum Redirection: Equatable {
    /// The slot lives elsewhere for good: `-MOVED <slot> <host:port>`.
    case moved(slot: Int, address: String)
    /// This one command goes to the node importing the slot: `-ASK <slot> <host:port>`.
    case ask(address: String)
    /// `-TRYAGAIN` (keys split by a migration), `-CLUSTERDOWN`, or a script that met
    /// a key already migrated: retry shortly.
    case retryLater

    init?(_ message: String) {
        let words = message.split(separator: " ")
        switch words.first {
        case "MOVED" where words.count == 3:
            guard let slot = Int(words[1]), let node = RedisEndpoint.Node.parse(String(words[2])) else { return nil }
            self = .moved(slot: slot, address: node.description)
        case "ASK" where words.count == 3:
            guard let node = RedisEndpoint.Node.parse(String(words[2])) else { return nil }
            self = .ask(address: node.description)
        case "TRYAGAIN", "CLUSTERDOWN":
            self = .retryLater
        default:
            // A script that touched a key of its slot already moved by a migration in
            // progress (durin's scripts do so before their first write).
            guard message.contains("Script attempted to access a non local key") else { return nil }
            self = .retryLater
        }
    }
}

extension RedisEndpoint.Node {
    /// "host:port" or "[v6]:port", as `description` writes it.
    static func parse(_ text: String) -> RedisEndpoint.Node? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return RedisEndpoint.Node(host: host, port: port)
    }
}
