package import RedisClient

/// Failures of the token store, kept apart from HTTP: the server maps them.
package enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Redis is unreachable or timed out; callers answer 503 and try again later.
    case unavailable(String)
    /// Redis answered something the store does not expect (an error reply, a
    /// value of the wrong type): a bug or foreign data under our prefix.
    case unexpected(String)
    /// durinctl's sealing secret is not the one durin-fcgi recorded: what it sealed,
    /// the service could not open (`TokenStore.SealingRole`).
    case otherSealingSecret

    /// An error reply: one that says "not now" (Redis loading its data after a
    /// restart, a replica or a full memory refusing writes, a busy script, a failover,
    /// a cluster slot still moving when the connection's retries ran out) is
    /// unavailability, answered 503 and retried later; any other is unexpected.
    package init(reply message: String) {
        self = ClusterRoute.classify(message) == .transient ? .unavailable(message) : .unexpected(message)
    }

    package init(_ error: RedisError) {
        switch error {
        // A refused login still means "no store to answer with": 503, and durin-fcgi
        // checks the login at start so that this is seen there first.
        case .unavailable(let why), .rejected(let why): self = .unavailable(why)
        case .server(let message): self = StoreError(reply: message)
        case .invalidURL(let why): self = .unexpected(why)
        }
    }

    package var description: String {
        switch self {
        case .unavailable(let why): return "Redis unavailable: \(why)"
        case .unexpected(let why): return "unexpected Redis reply: \(why)"
        case .otherSealingSecret:
            return "this sealing secret (DURIN_SECRET_KEY) is not the one durin-fcgi uses: tokens sealed with it "
                + "could not be handed back by the service"
        }
    }
}

extension RedisCommandConnection {
    /// Every key of this server matching `pattern` (and of `type`, if given), one
    /// SCAN batch at a time.
    package func scan(matching pattern: String, type: String? = nil, _ body: (String) throws(StoreError) -> Void) throws(StoreError) {
        var cursor = "0"
        repeat {
            let reply = try call(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"] + (type.map { ["TYPE", $0] } ?? []))
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                throw .unexpected("SCAN: \(reply)")
            }
            for key in (parts[1].array ?? []).compactMap(\.string) { try body(key) }
            cursor = next
        } while cursor != "0"
    }

    /// One command, with Redis errors turned into store errors.
    package func call(_ args: [String]) throws(StoreError) -> RedisReply {
        let reply: RedisReply
        do { reply = try send(args) } catch { throw StoreError(error) }
        if case .error(let message) = reply { throw StoreError(reply: message) }
        return reply
    }
}
