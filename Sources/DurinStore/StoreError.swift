import RedisClient

/// Failures of the token store, kept apart from HTTP: the server maps them.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Redis is unreachable or timed out; callers answer 503 and try again later.
    case unavailable(String)
    /// Redis answered something the store does not expect (an error reply, a
    /// value of the wrong type): a bug or foreign data under our prefix.
    case unexpected(String)

    init(_ error: RedisError) {
        switch error {
        // A refused login still means "no store to answer with": 503, and durin-fcgi
        // checks the login at start so that this is seen there first.
        case .unavailable(let why), .rejected(let why): self = .unavailable(why)
        case .server(let message): self = .unexpected(message)
        case .invalidURL(let why): self = .unexpected(why)
        }
    }

    public var description: String {
        switch self {
        case .unavailable(let why): return "Redis unavailable: \(why)"
        case .unexpected(let why): return "unexpected Redis reply: \(why)"
        }
    }
}

extension RedisConnection {
    /// One command, with Redis errors turned into store errors.
    func call(_ args: [String]) throws(StoreError) -> RedisReply {
        let reply: RedisReply
        do { reply = try send(args) } catch { throw StoreError(error) }
        if case .error(let message) = reply { throw .unexpected(message) }
        return reply
    }

    /// Runs a script by SHA, loading it on NOSCRIPT (after a Redis restart or
    /// SCRIPT FLUSH) with a plain EVAL, which also caches it again.
    func run(_ script: Script, keys: [String] = [], args: [String]) throws(StoreError) -> RedisReply {
        let tail = [String(keys.count)] + keys + args
        var reply: RedisReply
        do {
            reply = try send(["EVALSHA", script.sha] + tail)
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
                reply = try send(["EVAL", script.source] + tail)
            }
        } catch {
            throw StoreError(error)
        }
        if case .error(let message) = reply { throw .unexpected(message) }
        return reply
    }
}
