/// What can go wrong talking to Redis.
package enum RedisError: Error, Sendable, Equatable {
    /// The server could not be reached, or the connection broke or timed out.
    /// The connection is reset and will reconnect on the next command.
    case unavailable(String)
    /// Redis answered with an error reply (`-ERR ...`, `-NOSCRIPT ...`).
    case server(String)
    /// The server refused the connection's login (`AUTH`: a wrong user or password)
    /// or its database (`SELECT`). Unlike `unavailable`, retrying cannot help.
    case rejected(String)
    /// A `DURIN_REDIS_URL` that cannot be parsed.
    case invalidURL(String)
}

extension RedisError: CustomStringConvertible {
    package var description: String {
        switch self {
        case .unavailable(let why): return "Redis unavailable: \(why)"
        case .server(let message): return "Redis error: \(message)"
        case .rejected(let why): return "Redis refused the connection: \(why)"
        case .invalidURL(let why): return "invalid Redis URL: \(why)"
        }
    }
}
