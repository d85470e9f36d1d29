/// One decoded RESP2 reply. Values are copied out of hiredis's buffers, so a
/// reply outlives the connection that produced it.
package enum RedisReply: Sendable, Equatable {
    case status(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RedisReply])

    /// The reply as text: bulk strings decoded as UTF-8 (lossily), statuses as-is.
    package var string: String? {
        switch self {
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let s): return s
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    package var int: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulk, .status: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    package var array: [RedisReply]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// A flat array of alternating field/value bulk strings (HGETALL) as a dictionary.
    package var fieldMap: [String: String] {
        guard let items = array else { return [:] }
        var map: [String: String] = [:]
        var i = 0
        while i + 1 < items.count {
            if let k = items[i].string, let v = items[i + 1].string { map[k] = v }
            i += 2
        }
        return map
    }
}
