import Glibc

/// A connection to a Redis Cluster: each command goes to the master that owns its
/// key's hash slot, over one `RedisConnection` per node.
///
/// The slot map is read with `CLUSTER SLOTS` from any known node. Where a command
/// goes after a redirection, a retry or a dead node is `ClusterRoute`'s decision;
/// this type does the I/O and keeps the map.
///
/// Not thread-safe, like `RedisConnection`: one per worker thread.
package final class RedisClusterConnection: RedisCommandConnection {
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
    package private(set) var generation = 0

    package init(seeds: [RedisEndpoint.Node], username: String?, password: String?, timeoutMilliseconds: Int) {
        self.seeds = seeds
        self.username = username
        self.password = password
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    package var isConnected: Bool { !owners.isEmpty && nodes.values.contains { $0.isConnected } }

    package func send(_ args: [[UInt8]]) throws(RedisError) -> RedisReply {
        let slot = ClusterRoute.routingKey(args).map { HashSlot.of($0) }
        var route = ClusterRoute(slot: slot, isScript: ClusterRoute.isScript(args), owner: try node(for: slot))
        while true {
            let connection = self.connection(to: route.target)
            let reply: RedisReply
            do {
                if route.asking { _ = try connection.send(["ASKING"]) }
                reply = try connection.send(args)
            } catch {
                guard route.failed(timedOut: connection.lastFailureTimedOut) == .rerouteAfterFailure else { throw error }
                try refreshMap(avoiding: route.target)
                guard route.reroute(to: try node(for: slot), afterFailure: true) else { throw error }
                continue
            }
            switch route.received(reply) {
            case .deliver, .fail, .rerouteAfterFailure:
                lastNode = route.target
                if mapIsStale { try? refreshMap() }
                return reply
            case .resend(let learned):
                if let learned, owners.count == HashSlot.count { owners[learned.slot] = learned.node }
                if learned != nil { mapIsStale = true }
            case .retryLater(let refresh):
                pause(route.attempt)
                if refresh { try? refreshMap() }
                if let slot { _ = route.reroute(to: try node(for: slot)) }
            }
        }
    }

    /// Sends the commands in one round trip to the node of the first one's key. The
    /// commands of one call share a slot (durin's keys of one user or token do); any
    /// that are redirected all the same are sent again one by one, in order.
    package func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisReply] {
        guard let first = commands.first else { return [] }
        let bytes = first.map { Array($0.utf8) }
        let target = try node(for: ClusterRoute.routingKey(bytes).map { HashSlot.of($0) })
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
    package func masters() throws(RedisError) -> [any RedisCommandConnection] {
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
            guard let map = ClusterRoute.slotMap(reply, queried: address) else {
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
        let (seconds, attoseconds) = ClusterRoute.pause(attempt: attempt).components
        var pause = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        nanosleep(&pause, nil)
    }
}
