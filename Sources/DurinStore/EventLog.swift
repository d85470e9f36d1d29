import DurinCore
import RedisClient

/// One entry of the event stream (`<prefix>events`): durin's signals, never a token.
public struct Event: Sendable, Equatable {
    public var id: String
    /// `token_created`, `token_renewed`, `token_expired`, `token_revoked`, `login`,
    /// `login_failed`, `token_issued`, `token_imported` (durinctl import).
    public var fields: [(String, String)]

    public subscript(name: String) -> String? { fields.last { $0.0 == name }?.1 }

    public static func == (a: Event, b: Event) -> Bool {
        a.id == b.id && a.fields.elementsEqual(b.fields, by: { $0 == $1 })
    }
}

extension AdminStore {
    /// The last `count` events, oldest first.
    public func recentEvents(count: Int) throws(StoreError) -> [Event] {
        Self.events(try connection.call(["XREVRANGE", keys.events, "+", "-", "COUNT", String(max(1, count))])).reversed()
    }

    /// Events after `id` (`$`: only new ones), waiting up to `blockMillis` for some.
    public func events(after id: String, blockMillis: Int) throws(StoreError) -> [Event] {
        let reply = try connection.call(["XREAD", "BLOCK", String(blockMillis), "STREAMS", keys.events, id])
        return (reply.array ?? []).flatMap { Self.events($0.array?.last ?? .null) }
    }

    static func events(_ reply: RedisReply) -> [Event] {
        (reply.array ?? []).compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string else { return nil }
            let flat = (parts[1].array ?? []).compactMap(\.string)
            return Event(id: id, fields: stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) })
        }
    }
}
