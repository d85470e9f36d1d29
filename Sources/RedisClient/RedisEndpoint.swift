import Codecs

/// Where Redis lives and how to log in, parsed once from `DURIN_REDIS_URL`.
///
/// Accepted forms: `redis://[[user]:password@]host[:port][/db]`,
/// `unix:///path/to/redis.sock[?db=N]` (credentials as in the redis form are allowed:
/// `unix://:password@/path`), and
/// `redis-sentinel://[[user]:password@]host:port[,host:port...]/service[?db=N][&sentinel_password=P]`:
/// the sentinels are asked for the master of `service` (the credentials are the
/// master's; sentinels that require a password get `sentinel_password`, else the
/// master's when they answer NOAUTH),
/// and `redis-cluster://[[user]:password@]host:port[,host:port...]`: any nodes of a Redis
/// Cluster, from which the slot map is read (a cluster has only database 0).
package struct RedisEndpoint: Sendable, Equatable {
    package enum Address: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
        /// Sentinels to ask for the master of `service`.
        case sentinel(nodes: [Node], service: String)
        /// Seed nodes of a Redis Cluster (`RedisClusterConnection`).
        case cluster(nodes: [Node])
    }

    package struct Node: Sendable, Equatable, CustomStringConvertible {
        package var host: String
        package var port: Int
        package init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    package var address: Address
    package var username: String?
    package var password: String?
    package var database: Int
    /// The sentinels' own password (`?sentinel_password=`, percent-encoded), when
    /// they require one other than the master's.
    package var sentinelPassword: String?

    package init(
        address: Address, username: String? = nil, password: String? = nil, database: Int = 0,
        sentinelPassword: String? = nil
    ) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
        self.sentinelPassword = sentinelPassword
    }

    /// Parses a Redis URL; the error text names what is wrong, never the password.
    package static func parse(_ url: String) throws(RedisError) -> RedisEndpoint {
        func bad(_ why: String) -> RedisError { .invalidURL(why) }
        var rest: Substring
        var isUnix = false
        var isSentinel = false
        var isCluster = false
        if url.hasPrefix("redis://") {
            rest = url.dropFirst("redis://".count)
        } else if url.hasPrefix("unix://") {
            rest = url.dropFirst("unix://".count)
            isUnix = true
        } else if url.hasPrefix("redis-sentinel://") {
            rest = url.dropFirst("redis-sentinel://".count)
            isSentinel = true
        } else if url.hasPrefix("redis-cluster://") {
            rest = url.dropFirst("redis-cluster://".count)
            isCluster = true
        } else {
            throw bad("must start with redis://, unix://, redis-sentinel:// or redis-cluster://")
        }
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        var username: String?
        var password: String?
        // The last '@' splits credentials off, so a password may contain '@'.
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            // `user:password`, `:password`, or `user` alone (a URL's user info without a
            // colon is a user name; its password may come from elsewhere, e.g.
            // `durinctl migrate --from-password-stdin`). An empty password is none.
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : percentDecoded(user)
                let secret = credentials[credentials.index(after: colon)...]
                password = secret.isEmpty ? nil : percentDecoded(secret)
            } else if !credentials.isEmpty {
                username = percentDecoded(credentials)
            }
        }
        var database = 0
        var sentinelPassword: String?
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == "db" {
                guard let db = Int(kv[1]), db >= 0 else { throw bad("db must be a non-negative integer") }
                database = db
            }
            if kv.count == 2, kv[0] == "sentinel_password" {
                guard isSentinel else { throw bad("sentinel_password is for redis-sentinel:// URLs") }
                sentinelPassword = percentDecoded(kv[1])
            }
        }
        if isUnix {
            guard rest.hasPrefix("/"), rest.count > 1 else { throw bad("unix:// needs an absolute socket path") }
            return RedisEndpoint(address: .unix(path: String(rest)), username: username, password: password, database: database)
        }
        if isSentinel {
            guard let slash = rest.firstIndex(of: "/") else { throw bad("redis-sentinel:// needs /service after the sentinels") }
            let service = String(rest[rest.index(after: slash)...])
            guard !service.isEmpty, !service.contains("/") else { throw bad("redis-sentinel:// needs /service after the sentinels") }
            var nodes: [Node] = []
            for part in rest[..<slash].split(separator: ",", omittingEmptySubsequences: false) {
                nodes.append(try hostAndPort(part, defaultPort: 26379))
            }
            return RedisEndpoint(
                address: .sentinel(nodes: nodes, service: service), username: username, password: password,
                database: database, sentinelPassword: sentinelPassword)
        }
        if isCluster {
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            guard !rest.contains("/") else { throw bad("redis-cluster:// takes no path: a cluster has only database 0") }
            guard database == 0 else { throw bad("redis-cluster:// takes no db: a cluster has only database 0") }
            var nodes: [Node] = []
            for part in rest.split(separator: ",", omittingEmptySubsequences: false) {
                nodes.append(try hostAndPort(part, defaultPort: 6379))
            }
            return RedisEndpoint(address: .cluster(nodes: nodes), username: username, password: password)
        }
        var hostPort = rest
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            let dbText = rest[rest.index(after: slash)...]
            if !dbText.isEmpty {
                guard let db = Int(dbText), db >= 0 else { throw bad("the path must be a database number") }
                database = db
            }
        }
        let node = try hostAndPort(hostPort, defaultPort: 6379)
        return RedisEndpoint(
            address: .tcp(host: node.host, port: node.port), username: username, password: password,
            database: database)
    }

    private static func hostAndPort(_ hostPort: Substring, defaultPort: Int) throws(RedisError) -> Node {
        var host = String(hostPort)
        var port = defaultPort
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            host = String(hostPort[..<colon])
            guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else {
                throw .invalidURL("port must be 1-65535")
            }
            port = p
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw .invalidURL("missing host") }
        return Node(host: host, port: port)
    }

    private static func percentDecoded(_ s: Substring) -> String {
        String(decoding: PercentEncoding.decode(s.utf8, plusIsSpace: false), as: UTF8.self)
    }
}

extension RedisEndpoint: CustomStringConvertible {
    /// For logs: the address and database, never the credentials.
    package var description: String {
        switch address {
        case .tcp(let host, let port): return "redis://\(host):\(port)/\(database)"
        case .unix(let path): return "unix://\(path)?db=\(database)"
        case .sentinel(let nodes, let service):
            return "redis-sentinel://\(nodes.map(\.description).joined(separator: ","))/\(service)?db=\(database)"
        case .cluster(let nodes): return "redis-cluster://\(nodes.map(\.description).joined(separator: ","))"
        }
    }
}

extension RedisEndpoint {
    /// Whether this is a Redis Cluster, whose keys must be laid out by hash slot.
    package var isCluster: Bool {
        if case .cluster = address { return true }
        return false
    }

    /// A connection for this endpoint: slot-routing for a cluster, else one node
    /// (found through the sentinels for `redis-sentinel://`).
    package func connection(timeoutMilliseconds: Int = 2000) -> any RedisCommandConnection {
        if case .cluster(let nodes) = address {
            return RedisClusterConnection(
                seeds: nodes, username: username, password: password,
                timeoutMilliseconds: timeoutMilliseconds)
        }
        return RedisConnection(endpoint: self, timeoutMilliseconds: timeoutMilliseconds)
    }
}
