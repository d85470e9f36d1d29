import Codecs
/// Where Redis lives and how to log in, parsed once from `DURIN_REDIS_URL`.
///
/// Accepted forms: `redis://[[user]:password@]host[:port][/db]`,
/// `unix:///path/to/redis.sock[?db=N]` (credentials as in the redis form are allowed:
/// `unix://:password@/path`), and
/// `redis-sentinel://[[user]:password@]host:port[,host:port...]/service[?db=N]`: the
/// sentinels are asked for the master of `service` (the credentials are the master's).
public struct RedisEndpoint: Sendable, Equatable {
    public enum Address: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
        /// Sentinels to ask for the master of `service`.
        case sentinel(nodes: [Node], service: String)
    }

    public struct Node: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) { self.host = host; self.port = port }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public var address: Address
    public var username: String?
    public var password: String?
    public var database: Int

    public init(address: Address, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a Redis URL; the error text names what is wrong, never the password.
    public static func parse(_ url: String) throws(RedisError) -> RedisEndpoint {
        func bad(_ why: String) -> RedisError { .invalidURL(why) }
        var rest: Substring
        let isUnix: Bool, isSentinel: Bool
        if url.hasPrefix("redis://") {
            rest = url.dropFirst("redis://".count); isUnix = false; isSentinel = false
        } else if url.hasPrefix("unix://") {
            rest = url.dropFirst("unix://".count); isUnix = true; isSentinel = false
        } else if url.hasPrefix("redis-sentinel://") {
            rest = url.dropFirst("redis-sentinel://".count); isUnix = false; isSentinel = true
        } else {
            throw bad("must start with redis://, unix:// or redis-sentinel://")
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
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : percentDecoded(user)
                password = percentDecoded(credentials[credentials.index(after: colon)...])
            } else {
                password = percentDecoded(credentials)
            }
        }
        var database = 0
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == "db" {
                guard let db = Int(kv[1]), db >= 0 else { throw bad("db must be a non-negative integer") }
                database = db
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
            return RedisEndpoint(address: .sentinel(nodes: nodes, service: service), username: username, password: password,
                                 database: database)
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
        return RedisEndpoint(address: .tcp(host: node.host, port: node.port), username: username, password: password,
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
    public var description: String {
        switch address {
        case .tcp(let host, let port): return "redis://\(host):\(port)/\(database)"
        case .unix(let path): return "unix://\(path)?db=\(database)"
        case .sentinel(let nodes, let service):
            return "redis-sentinel://\(nodes.map(\.description).joined(separator: ","))/\(service)?db=\(database)"
        }
    }
}
