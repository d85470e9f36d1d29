/// One command's way through a Redis Cluster: where it goes, and what each answer
/// or failure means for it next. A pure state machine: `RedisClusterConnection` does
/// the I/O and keeps the slot map, this decides (unit-tested without a server, in
/// ClusterRouteTests, as valkey-swift tests its cluster state machine).
///
/// The rules, from the cluster specification and what durin's scripts need:
/// - `MOVED slot node`: the slot lives there for good. The command goes there, the
///   map records the new owner and is read again in full (a resharding or a
///   failover moved it).
/// - `ASK slot node`: the slot is migrating and this key may already be on the
///   importing node: the command goes there once, after `ASKING`. Never a script: on
///   the importing node the keys a script names but does not declare (durin's
///   scripts compute them) and that have not arrived yet would read as missing, so
///   a script waits, like `TRYAGAIN`, for the slot to finish moving.
/// - `TRYAGAIN` (a multi-key command whose keys are split by a migration), a script
///   that met a key already migrated ("Script attempted to access a non local key"),
///   and `CLUSTERDOWN` (which also has the map read again): retried after a pause
///   that grows with the attempt, at the slot's owner.
/// - A node that cannot be reached: the map is read again, and the command is sent
///   again only when its slot now has another owner (a failover), it was not sent
///   after `ASKING`, and the failure was not a timeout: a command that timed out may
///   have run, and one that ran on the old owner may have reached the new one.
/// - At most `maxAttempts` sends; then the last answer (or failure) stands.
package struct ClusterRoute: Equatable, Sendable {
    /// How many sends one command may take.
    package static let maxAttempts = 16

    package let slot: Int?
    package let isScript: Bool
    /// Where the command goes next.
    package private(set) var target: String
    /// Whether it goes after `ASKING`.
    package private(set) var asking = false
    /// Sends so far, this one included.
    package private(set) var attempt = 1

    /// A slot's owner, learned from a MOVED.
    package struct SlotOwner: Equatable, Sendable {
        package let slot: Int
        package let node: String
        package init(slot: Int, node: String) {
            self.slot = slot
            self.node = node
        }
    }

    /// What the connection does next.
    package enum Next: Equatable, Sendable {
        /// The reply is the answer: a value, or an error that is not a cluster's.
        case deliver
        /// Send again to `target` (after ASKING when `asking`); after a MOVED, the map
        /// learns the slot's owner and is to be read again in full.
        case resend(learned: SlotOwner?)
        /// Pause `pause(attempt:)`, read the map again when `refreshMap`, then
        /// `reroute(to:)` the slot's owner and send.
        case retryLater(refreshMap: Bool)
        /// A failure: read the map (avoiding the failed node), then `reroute(to:)`
        /// the slot's owner; send only if that is another node.
        case rerouteAfterFailure
        /// Give up: the failure stands.
        case fail
    }

    /// - Parameters:
    ///   - args: the command.
    ///   - owner: where the map says its slot (or, for a keyless command, the last
    ///     command) goes.
    package init(_ args: [[UInt8]], owner: String) {
        slot = Self.routingKey(args).map { HashSlot.of($0) }
        isScript = Self.isScript(args)
        target = owner
    }

    package init(slot: Int?, isScript: Bool, owner: String) {
        self.slot = slot
        self.isScript = isScript
        target = owner
    }

    /// After a reply.
    package mutating func received(_ reply: RedisReply) -> Next {
        guard case .error(let message) = reply, attempt < Self.maxAttempts, let redirection = Redirection(message) else {
            return .deliver
        }
        attempt += 1
        switch redirection {
        case .moved(let movedSlot, let node):
            target = node
            asking = false
            return .resend(learned: SlotOwner(slot: movedSlot, node: node))
        case .ask(let node) where !isScript:
            target = node
            asking = true
            return .resend(learned: nil)
        case .ask, .retryLater:
            asking = false
            return .retryLater(refreshMap: message.hasPrefix("CLUSTERDOWN"))
        }
    }

    /// After the connection to `target` failed (`timedOut`: the command may have run).
    package mutating func failed(timedOut: Bool) -> Next {
        guard attempt < Self.maxAttempts, slot != nil, !asking, !timedOut else { return .fail }
        attempt += 1
        return .rerouteAfterFailure
    }

    /// The slot's owner after the map was read again. False after a failure when the
    /// owner is the node that failed: the command is not sent again.
    package mutating func reroute(to owner: String, afterFailure: Bool = false) -> Bool {
        if afterFailure && owner == target { return false }
        target = owner
        asking = false
        return true
    }

    /// The pause before a retry: 20 ms a try, at most 200 ms.
    package static func pause(attempt: Int) -> Duration { .milliseconds(20 * min(attempt, 10)) }

    // MARK: Commands

    package static func isScript(_ args: [[UInt8]]) -> Bool {
        guard let name = args.first.map({ String(decoding: $0, as: UTF8.self).uppercased() }) else { return false }
        return name.hasPrefix("EVAL") || name.hasPrefix("FCALL")
    }

    /// The key whose slot decides where a command goes; nil for keyless commands.
    package static func routingKey(_ args: [[UInt8]]) -> [UInt8]? {
        guard let name = args.first.map({ String(decoding: $0, as: UTF8.self).uppercased() }) else { return nil }
        switch name {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL":
            guard args.count > 3, let count = Int(String(decoding: args[2], as: UTF8.self)), count > 0 else { return nil }
            return args[3]
        case "XREAD", "XREADGROUP":
            guard let streams = args.firstIndex(where: { String(decoding: $0, as: UTF8.self).uppercased() == "STREAMS" }),
                streams + 1 < args.count
            else { return nil }
            return args[streams + 1]
        case "PING", "AUTH", "SELECT", "SCRIPT", "CLIENT", "WAIT", "ROLE", "SCAN", "INFO", "CLUSTER", "SUBSCRIBE",
            "UNSUBSCRIBE", "ASKING", "READONLY", "ACL", "CONFIG", "MULTI", "EXEC", "DBSIZE", "HELLO", "ECHO", "TIME":
            return nil
        default:
            return args.count > 1 ? args[1] : nil
        }
    }

    // MARK: Replies

    /// A `CLUSTER SLOTS` reply as the owner of each slot; nil unless every slot is
    /// served (a cluster that is still forming or has lost a shard). `queried` is
    /// the node asked: an empty or "?" address means that one.
    package static func slotMap(_ reply: RedisReply, queried: String) -> [String]? {
        guard let ranges = reply.array else { return nil }
        var owners = [String?](repeating: nil, count: HashSlot.count)
        for range in ranges {
            guard let items = range.array, items.count >= 3, let first = items[0].int, let last = items[1].int,
                let master = items[2].array, master.count >= 2, let port = master[1].int,
                first >= 0, last < HashSlot.count, first <= last
            else { return nil }
            var host = master[0].string ?? ""
            if host.isEmpty || host == "?" { host = RedisEndpoint.Node.parse(queried)?.host ?? host }
            let address = RedisEndpoint.Node(host: host, port: Int(port)).description
            for slot in Int(first)...Int(last) { owners[slot] = address }
        }
        let complete = owners.compactMap { $0 }
        return complete.count == HashSlot.count ? complete : nil
    }

    /// What an error reply means for a caller that does not follow redirections
    /// itself (StoreError): one classification for the connection and the store.
    package enum ErrorKind: Equatable, Sendable {
        /// A cluster or server state that passes (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, a
        /// migration caught a script, LOADING, a failover's READONLY, ...).
        case transient
        /// Any other error: the command's own.
        case other
    }

    package static func classify(_ message: String) -> ErrorKind {
        if Redirection(message) != nil { return .transient }
        let transient: Set = [
            "LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM", "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN",
            "ASK", "MOVED",
        ]
        return transient.contains(String(message.prefix { $0 != " " })) ? .transient : .other
    }
}

/// A cluster error reply that says where to go instead.
package enum Redirection: Equatable, Sendable {
    /// The slot lives elsewhere for good: `-MOVED <slot> <host:port>`.
    case moved(slot: Int, address: String)
    /// This one command goes to the node importing the slot: `-ASK <slot> <host:port>`.
    case ask(address: String)
    /// `-TRYAGAIN` (keys split by a migration), `-CLUSTERDOWN`, or a script that met
    /// a key already migrated: retry shortly.
    case retryLater

    package init?(_ message: String) {
        let words = message.split(separator: " ")
        switch words.first {
        case "MOVED" where words.count == 3:
            guard let slot = Int(words[1]), (0..<HashSlot.count).contains(slot),
                let node = RedisEndpoint.Node.parse(String(words[2]))
            else { return nil }
            self = .moved(slot: slot, address: node.description)
        case "ASK" where words.count == 3:
            guard let node = RedisEndpoint.Node.parse(String(words[2])) else { return nil }
            self = .ask(address: node.description)
        case "TRYAGAIN", "CLUSTERDOWN":
            self = .retryLater
        default:
            // A script that touched a key of its slot already moved by a migration in
            // progress (durin's scripts do so before their first write).
            guard message.contains(Self.scriptMetMigratedKey) else { return nil }
            self = .retryLater
        }
    }

    /// What Redis says when a script touches a key its node no longer has.
    package static let scriptMetMigratedKey = "Script attempted to access a non local key"
}

extension RedisEndpoint.Node {
    /// "host:port", "[v6]:port" or "v6:port" (as Redis writes IPv6 in MOVED and ASK);
    /// nil without a port of 1 to 65535.
    package static func parse(_ text: String) -> RedisEndpoint.Node? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return RedisEndpoint.Node(host: host, port: port)
    }
}
