import CHiredis
import Glibc

/// A blocking connection to Redis: hiredis, wrapped once.
///
/// Not thread-safe (hiredis contexts are not): each worker thread owns one.
/// The connection is lazy and self-healing: it connects on first use, and after any
/// I/O failure it drops the context and reconnects on the next command, so a Redis
/// restart costs the callers exactly the requests made while it was down.
package final class RedisConnection {
    package let endpoint: RedisEndpoint
    private let timeout: timeval
    private let readTimeout: Bool
    private var context: UnsafeMutablePointer<redisContext>?
    /// Counts successful connects: per-connection state (CLIENT TRACKING) must be
    /// set again whenever this changes.
    package private(set) var generation = 0
    /// Whether the last failure was a timeout: the command may have run, so it must
    /// not be sent again elsewhere (RedisClusterConnection).
    package private(set) var lastFailureTimedOut = false

    /// - Parameters:
    ///   - timeout: connect and per-command timeout, so a stalled Redis cannot hold a thread.
    ///   - readTimeout: false for a subscriber that blocks waiting for messages.
    package init(endpoint: RedisEndpoint, timeoutMilliseconds: Int = 2000, readTimeout: Bool = true) {
        self.endpoint = endpoint
        self.timeout = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
        self.readTimeout = readTimeout
    }

    deinit { disconnect() }

    package var isConnected: Bool { context != nil }

    package func disconnect() {
        if let c = context { redisFree(c) }
        context = nil
    }

    /// Sends one command and waits for its reply. Error replies are returned as
    /// `.error`, not thrown: callers decide which ones matter (NOSCRIPT, WRONGTYPE).
    /// Throws `.unavailable` when Redis cannot be reached.
    package func send(_ args: [[UInt8]]) throws(RedisError) -> RedisReply {
        try send(formatted: RESPCommand.encode(args))
    }

    package func send(strings args: [String]) throws(RedisError) -> RedisReply {
        try send(formatted: RESPCommand.encode(args))
    }

    private func send(formatted command: [UInt8]) throws(RedisError) -> RedisReply {
        // A connection broken while idle (Redis restarted) fails on first use with
        // EOF; one retry on a fresh connection makes the first request after a
        // restart succeed. Timeouts are not retried: the command may have run.
        let hadConnection = context != nil
        do {
            return try sendOnce(command)
        } catch {
            guard hadConnection && !error.isTimeout else { throw error.error }
            do { return try sendOnce(command) } catch { throw error.error }
        }
    }

    /// Sends several commands in one round trip and returns their replies in order.
    package func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisReply] {
        let ctx = try connected()
        for command in commands {
            let status = withArgv(command.map { Array($0.utf8) }) { argc, argv, lens in
                redisAppendCommandArgv(ctx, argc, argv, lens)
            }
            if status != REDIS_OK { throw fail(ctx).error }
        }
        var replies: [RedisReply] = []
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(ctx, &raw) != REDIS_OK || raw == nil { throw fail(ctx).error }
            replies.append(Self.decodeAndFree(raw!))
        }
        return replies
    }

    /// Waits for the next message pushed by the server (SUBSCRIBE).
    package func readPush() throws(RedisError) -> RedisReply {
        let ctx = try connected()
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(ctx, &raw) != REDIS_OK || raw == nil { throw fail(ctx).error }
        return Self.decodeAndFree(raw!)
    }

    /// Waits at most `milliseconds` for the next pushed message; nil when none came.
    /// Unlike a socket timeout, which leaves a hiredis context unusable, the
    /// connection stays open: a subscriber uses this to notice a silent server (one
    /// frozen or cut off, whose socket never closes) by pinging it between reads.
    package func readPush(within milliseconds: Int) throws(RedisError) -> RedisReply? {
        let ctx = try connected()
        var raw: UnsafeMutableRawPointer?
        // A reply already read off the socket comes first.
        if redisGetReplyFromReader(ctx, &raw) != REDIS_OK { throw fail(ctx).error }
        if let raw { return Self.decodeAndFree(raw) }
        var ready = pollfd(fd: ctx.pointee.fd, events: Int16(POLLIN), revents: 0)
        let polled = poll(&ready, 1, Int32(milliseconds))
        if polled == 0 || (polled < 0 && errno == EINTR) { return nil }
        if polled < 0 || redisBufferRead(ctx) != REDIS_OK { throw fail(ctx).error }
        if redisGetReplyFromReader(ctx, &raw) != REDIS_OK { throw fail(ctx).error }
        return raw.map { Self.decodeAndFree($0) }
    }

    /// Sends a command without waiting for its reply, which arrives as a pushed
    /// message: how a subscriber pings (RESP2 answers `["pong", ""]`).
    package func sendOnly(_ command: [String]) throws(RedisError) {
        let ctx = try connected()
        let status = withArgv(command.map { Array($0.utf8) }) { argc, argv, lens in
            redisAppendCommandArgv(ctx, argc, argv, lens)
        }
        if status != REDIS_OK { throw fail(ctx).error }
        var done: Int32 = 0
        while done == 0 {
            if redisBufferWrite(ctx, &done) != REDIS_OK { throw fail(ctx).error }
        }
    }

    // MARK: - Internals

    private struct Failure: Error {
        let error: RedisError
        let isTimeout: Bool
    }

    /// One command in RESP (`RESPCommand`), sent and answered: what
    /// redisCommandArgv does, without formatting it again.
    private func sendOnce(_ command: [UInt8]) throws(Failure) -> RedisReply {
        let ctx: UnsafeMutablePointer<redisContext>
        do { ctx = try connected() } catch { throw Failure(error: error, isTimeout: false) }
        let appended = command.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { redisAppendFormattedCommand(ctx, $0.baseAddress, $0.count) }
        }
        guard appended == REDIS_OK else { throw fail(ctx) }
        var rawReply: UnsafeMutableRawPointer?
        guard redisGetReply(ctx, &rawReply) == REDIS_OK, let raw = rawReply else { throw fail(ctx) }
        let reply = Self.decodeAndFree(raw)
        if case .error(let message) = reply, Self.saysNotMaster(message) { disconnect() }
        return reply
    }

    /// A reply from a server that is no longer the master (demoted by a failover):
    /// the next command connects again, and through sentinels finds the new one.
    static func saysNotMaster(_ message: String) -> Bool {
        message.hasPrefix("READONLY") || message.hasPrefix("MASTERDOWN")
    }

    private func connected() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let c = context { return c }
        let c: UnsafeMutablePointer<redisContext>
        switch endpoint.address {
        case .tcp(let host, let port): c = try open(.tcp(host: host, port: port))
        case .unix(let path): c = try open(.unix(path: path))
        case .sentinel(let nodes, let service): c = try openMaster(nodes: nodes, service: service)
        case .cluster: throw .invalidURL("a redis-cluster:// endpoint needs a RedisClusterConnection (RedisEndpoint.connection)")
        }
        // A subscriber blocks on reads for as long as no message comes, so its socket
        // must not keep the timeout that discovery (`ask`) set on it.
        _ = redisSetTimeout(c, readTimeout ? timeout : timeval(tv_sec: 0, tv_usec: 0))
        context = c
        generation += 1
        // Log in and select the database before anything else uses the connection.
        var setup: [[String]] = []
        if let password = endpoint.password {
            setup.append(endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if endpoint.database != 0 { setup.append(["SELECT", String(endpoint.database)]) }
        for command in setup {
            let raw = withArgv(command.map { Array($0.utf8) }) { argc, argv, lens in redisCommandArgv(c, argc, argv, lens) }
            guard let raw else { throw fail(c).error }
            if case .error(let message) = Self.decodeAndFree(raw) {
                disconnect()
                throw .rejected("\(command[0]) failed: \(message)")
            }
        }
        // Never closed by maxmemory-clients, whose limit is for whoever else holds
        // replies unread (durin-redis.conf). A server or an ACL without it (Redis
        // before 7, an older durin.acl) refuses; that is no reason to fail, and
        // `durinctl check` says what it costs.
        let noEvict = withArgv(["CLIENT", "NO-EVICT", "on"].map { Array($0.utf8) }) { argc, argv, lens in
            redisCommandArgv(c, argc, argv, lens)
        }
        guard let noEvict else { throw fail(c).error }
        _ = Self.decodeAndFree(noEvict)
        return c
    }

    private func open(_ address: RedisEndpoint.Address) throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        // hiredis takes the host or path as a C string, which ends at the first NUL: a
        // name with one (in a sentinel's answer, a redirection, a settings file) would
        // reach another host or path than the one named. Every connect passes here.
        switch address {
        case .tcp(let name, _), .unix(let name):
            if name.utf8.contains(0) { throw .invalidURL("a Redis host or socket path holds a NUL byte") }
        case .sentinel, .cluster: break
        }
        let made: UnsafeMutablePointer<redisContext>?
        switch address {
        case .tcp(let host, let port): made = redisConnectWithTimeout(host, Int32(port), timeout)
        case .unix(let path): made = redisConnectUnixWithTimeout(path, timeout)
        case .sentinel, .cluster: made = nil
        }
        guard let c = made else { throw .unavailable("cannot allocate a hiredis context") }
        if c.pointee.err != 0 {
            let why = Self.errorText(c)
            redisFree(c)
            throw .unavailable(why)
        }
        return c
    }

    /// One command on a context that is not (yet) this connection's.
    private func ask(_ c: UnsafeMutablePointer<redisContext>, _ command: [String]) -> RedisReply? {
        _ = redisSetTimeout(c, timeout)
        let raw = withArgv(command.map { Array($0.utf8) }) { argc, argv, lens in redisCommandArgv(c, argc, argv, lens) }
        return raw.map { Self.decodeAndFree($0) }
    }

    /// Asks each sentinel in turn for the master of `service`, connects to it, and
    /// keeps it only if it says it is a master (ROLE): a sentinel may still name the
    /// old master in the first moments of a failover.
    private func openMaster(nodes: [RedisEndpoint.Node], service: String) throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        var reasons: [String] = []
        for node in nodes {
            let sentinel: UnsafeMutablePointer<redisContext>
            do { sentinel = try open(.tcp(host: node.host, port: node.port)) } catch {
                reasons.append("sentinel \(node): \(error)")
                continue
            }
            // Sentinels may require a password of their own; where none is given, the
            // master's is tried, which is how many deployments set them up.
            let question = ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", service]
            if let password = endpoint.sentinelPassword { _ = ask(sentinel, ["AUTH", password]) }
            var answer = ask(sentinel, question)
            if case .error(let message)? = answer, message.hasPrefix("NOAUTH"), endpoint.sentinelPassword == nil,
                let password = endpoint.password
            {
                _ = ask(sentinel, ["AUTH", password])
                answer = ask(sentinel, question)
            }
            redisFree(sentinel)
            if case .error(let message)? = answer {
                reasons.append("sentinel \(node): \(message)")
                continue
            }
            guard let items = answer?.array, items.count == 2, let host = items[0].string,
                let port = items[1].string.flatMap({ Int($0) })
            else {
                reasons.append("sentinel \(node) names no master for \(service)")
                continue
            }
            let master: UnsafeMutablePointer<redisContext>
            do { master = try open(.tcp(host: host, port: port)) } catch {
                reasons.append("master \(host):\(port) from sentinel \(node): \(error)")
                continue
            }
            if let password = endpoint.password {
                let auth = endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
                if case .error(let message)? = ask(master, auth) {
                    redisFree(master)
                    throw .rejected("AUTH failed: \(message)")
                }
            }
            guard ask(master, ["ROLE"])?.array?.first?.string == "master" else {
                redisFree(master)
                reasons.append("\(host):\(port), named by sentinel \(node), is not a master")
                continue
            }
            return master
        }
        throw .unavailable("no master for \(service): \(reasons.joined(separator: "; "))")
    }

    /// Records why the context died, frees it, and reports the failure.
    private func fail(_ ctx: UnsafeMutablePointer<redisContext>) -> Failure {
        let why = Self.errorText(ctx)
        let isTimeout = ctx.pointee.err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)
        lastFailureTimedOut = isTimeout
        disconnect()
        return Failure(error: .unavailable(why), isTimeout: isTimeout)
    }

    private static func errorText(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: ctx.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            let text = String(decoding: bytes, as: UTF8.self)
            return text.isEmpty ? "connection error \(ctx.pointee.err)" : text
        }
    }

    /// Lays the arguments out in one buffer and hands hiredis pointers into it:
    /// binary-safe, and no per-argument allocation.
    private func withArgv<R>(
        _ args: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        var flat: [UInt8] = []
        flat.reserveCapacity(args.reduce(0) { $0 + $1.count } + 1)
        var offsets: [Int] = []
        var lengths: [Int] = []
        for arg in args {
            offsets.append(flat.count)
            lengths.append(arg.count)
            flat.append(contentsOf: arg)
        }
        flat.append(0)  // so that an empty last argument still has a valid address
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lens in
                    body(Int32(args.count), argvBuffer.baseAddress!, lens.baseAddress!)
                }
            }
        }
    }

    private static func decodeAndFree(_ raw: UnsafeMutableRawPointer) -> RedisReply {
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return decode(reply)
    }

    static func decode(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let reply = r.pointee
        switch reply.type {
        case REDIS_REPLY_STRING:
            return .bulk(bytes(reply.str, reply.len))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(reply.str, reply.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(reply.str, reply.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(reply.integer))
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(Int(reply.elements))
            for i in 0..<Int(reply.elements) {
                if let child = reply.element[i] { items.append(decode(child)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .null
        }
    }

    private static func bytes(_ p: UnsafeMutablePointer<CChar>?, _ len: Int) -> [UInt8] {
        guard let p, len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: len))
    }
}
