import DurinCore
import Glibc
import RedisClient

/// One entry of the event stream (`<prefix>events`): durin's signals, never a token.
package struct Event: Sendable, Equatable {
    package var id: String
    /// `token_created`, `token_renewed`, `token_expired`, `token_revoked`, `login`,
    /// `login_failed`, `token_issued`, `token_imported` (durinctl import).
    package var fields: [(String, String)]

    package subscript(name: String) -> String? { fields.last { $0.0 == name }?.1 }

    package static func == (a: Event, b: Event) -> Bool {
        a.id == b.id && a.fields.elementsEqual(b.fields, by: { $0 == $1 })
    }
}

extension AdminStore {
    /// The last `count` events, oldest first. On a cluster each key group has its own
    /// stream: the streams of every master are read and merged by id (time).
    package func recentEvents(count: Int) throws(StoreError) -> [Event] {
        var all: [Event] = []
        for (connection, stream) in try eventStreams() {
            all += Self.events(try connection.call(["XREVRANGE", stream, "+", "-", "COUNT", String(max(1, count))]))
        }
        return Array(all.sorted { Event.order($0.id, $1.id) }.suffix(max(1, count)))
    }

    /// Events after `id` (`$`: only new ones), waiting up to `blockMillis` for some.
    package func events(after id: String, blockMillis: Int) throws(StoreError) -> [Event] {
        guard keys.cluster else {
            let reply = try connection.call(["XREAD", "BLOCK", String(blockMillis), "STREAMS", keys.events, id])
            return (reply.array ?? []).flatMap { Self.events($0.array?.last ?? .null) }
        }
        // A cluster's streams cannot be read in one blocking XREAD (they are in many
        // slots): each is read from `id` on, and an empty round waits before the next.
        let start = id == "$" ? "\(WallClock.nowMillis())-0" : id
        var found: [Event] = []
        for (connection, stream) in try eventStreams() {
            found += Self.events(try connection.call(["XRANGE", stream, "(" + start, "+"]))
        }
        if found.isEmpty { usleep(UInt32(min(max(blockMillis, 1), 500) * 1000)) }
        return found.sorted { Event.order($0.id, $1.id) }
    }

    /// Every event stream, with a connection to the node holding it.
    private func eventStreams() throws(StoreError) -> [(any RedisCommandConnection, String)] {
        guard keys.cluster else { return [(connection, keys.events)] }
        let masters: [any RedisCommandConnection]
        do { masters = try connection.masters() } catch { throw StoreError(error) }
        var streams: [(any RedisCommandConnection, String)] = []
        for master in masters {
            try master.scan(matching: keys.eventStreamPattern, type: "stream") { (stream) throws(StoreError) in
                streams.append((master, stream))
            }
        }
        return streams
    }

    static func events(_ reply: RedisReply) -> [Event] {
        (reply.array ?? []).compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string else { return nil }
            let flat = (parts[1].array ?? []).compactMap(\.string)
            return Event(id: id, fields: stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) })
        }
    }
}

extension Event {
    /// Stream ids (`ms-seq`) in time order, across streams.
    static func order(_ a: String, _ b: String) -> Bool {
        func parts(_ id: String) -> (Int64, Int64) {
            let p = id.split(separator: "-")
            return (Int64(p.first ?? "") ?? 0, Int64(p.count > 1 ? p[1] : "") ?? 0)
        }
        return parts(a) < parts(b)
    }
}
