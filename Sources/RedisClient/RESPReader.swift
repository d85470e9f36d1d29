import CHiredis

/// RESP replies read from bytes by hiredis's own reader and decoded exactly as
/// `RedisConnection` decodes what it reads from its socket. The fuzzing entry point
/// for reply handling (Fuzz/RESP); also usable on captured traffic.
package enum RESP {
    /// Every complete reply in `bytes`, in order; a trailing incomplete reply is left
    /// unread, as on a socket that has not delivered the rest yet. Nil on a protocol
    /// error (hiredis then drops the connection).
    ///
    /// - Parameter chunkSize: feeds the bytes in pieces of at most this many, asking
    ///   for replies after each, as successive socket reads would.
    package static func parse(_ bytes: [UInt8], chunkSize: Int = .max) -> [RedisReply]? {
        guard let reader = redisReaderCreate() else { return nil }
        defer { redisReaderFree(reader) }
        let step = max(1, chunkSize)
        var replies: [RedisReply] = []
        var start = 0
        repeat {
            let end = bytes.count - start > step ? start + step : bytes.count
            let fed = bytes[start..<end].withUnsafeBufferPointer { piece in
                piece.withMemoryRebound(to: CChar.self) { redisReaderFeed(reader, $0.baseAddress, $0.count) }
            }
            guard fed == REDIS_OK else { return nil }
            while true {
                var raw: UnsafeMutableRawPointer?
                guard redisReaderGetReply(reader, &raw) == REDIS_OK else { return nil }
                guard let raw else { break }
                defer { freeReplyObject(raw) }
                replies.append(RedisConnection.decode(raw.assumingMemoryBound(to: redisReply.self)))
            }
            start = end
        } while start < bytes.count
        return replies
    }
}
