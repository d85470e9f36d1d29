/// What the stores need of a connection to Redis: a command in, a typed reply out,
/// and pipelining. `RedisConnection` is one server (found through Sentinel or not);
/// `RedisClusterConnection` routes each command to the master of its key's slot.
///
/// A connection is used by one thread at a time.
package protocol RedisCommandConnection: AnyObject {
    /// Sends one command and waits for its reply. Error replies come back as
    /// `.error`; only an unreachable server throws (`RedisError.unavailable`), or one
    /// that refused the connection's login (`.rejected`).
    func send(_ args: [[UInt8]]) throws(RedisError) -> RedisReply

    /// The same, for arguments that are text (nearly every command).
    func send(strings args: [String]) throws(RedisError) -> RedisReply

    /// Sends several commands in one round trip; their replies, in order.
    func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisReply]

    /// Counts successful (re)connects: per-connection state such as CLIENT TRACKING
    /// must be set again whenever it changes.
    var generation: Int { get }

    var isConnected: Bool { get }

    /// A connection to each master holding data: this one for a single server, one
    /// per master for a cluster. For what must visit every node, such as SCAN.
    func masters() throws(RedisError) -> [any RedisCommandConnection]
}

extension RedisCommandConnection {
    package func send(strings args: [String]) throws(RedisError) -> RedisReply {
        try send(args.map { Array($0.utf8) })
    }

    package func send(_ args: [String]) throws(RedisError) -> RedisReply {
        try send(strings: args)
    }

    package func send(_ args: String...) throws(RedisError) -> RedisReply {
        try send(args.map { Array($0.utf8) })
    }
}

extension RedisConnection: RedisCommandConnection {
    package func masters() throws(RedisError) -> [any RedisCommandConnection] { [self] }
}
