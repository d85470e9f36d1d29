import DurinCore
import Foundation
import RedisClient
import Synchronization

/// durin's CachedTokenAuthentication, done right: verified tokens are kept in
/// memory for up to DURIN_TOKEN_CACHE_TIMEOUT (never past their expiry), and Redis
/// client tracking removes an entry the moment its token or user changes, so a
/// revoked token is never served from here.
///
/// Shared by all worker threads. An `InvalidationListener` thread feeds it; while
/// that connection is down the cache is empty and bypassed. Workers read through a
/// `CachedTokenReader` each, which keeps the client-tracking state of its connection.
public final class VerificationCache: Sendable {
    struct Entry {
        let record: TokenRecord
        let validUntil: EpochMillis
    }

    struct State {
        var entries: [String: Entry] = [:]
        /// The subscriber's client id while tracking works, nil otherwise.
        var redirectID: Int64?
        /// The server the subscriber is connected to (`CLIENT INFO`'s `laddr`): a
        /// worker may redirect its tracking only from a connection to that server.
        var server = ""
        /// When the subscriber last heard from its server (any message or pong).
        var heardAt: EpochMillis = 0
        /// Bumped by every subscriber (re)connect: workers re-enable tracking.
        var epoch = 0
        /// Bumped by every invalidation: an insert that raced with one is dropped.
        var sequence = 0
    }

    private let state = Mutex(State())
    private let invalidationCount = Atomic(0)
    private let timeoutMillis: Int64
    private let keys: KeySpace
    private let capacity: Int

    /// How long the cache is trusted after the subscriber last heard from Redis. A
    /// server that stops answering without closing its sockets (frozen, cut off)
    /// could meanwhile be replaced by a promoted replica whose writes never reach this
    /// subscriber; Sentinel needs it silent for `down-after-milliseconds` (1 s at the
    /// least anyone sets) before it promotes one, so past this bound the cache is
    /// bypassed before any other master can exist.
    let silenceMillis: Int64

    public init(timeoutSeconds: Int64, keys: KeySpace, capacity: Int = 100_000, silenceMillis: Int64 = 750) {
        timeoutMillis = timeoutSeconds * 1000
        self.keys = keys
        self.capacity = capacity
        self.silenceMillis = silenceMillis
    }

    /// What a worker needs to use the cache: nil while tracking is down.
    public struct Ticket: Equatable, Sendable {
        public let redirectID: Int64
        /// The subscriber's server (`CLIENT INFO` `laddr`).
        public let server: String
        public let epoch: Int
        let sequence: Int
    }

    /// Invalidation messages received (each a set of keys, or a flush).
    public var invalidations: Int { invalidationCount.load(ordering: .relaxed) }
    public var count: Int { state.withLock { $0.entries.count } }

    /// nil while tracking is down, or while the subscriber has heard nothing from
    /// its server for longer than `silenceMillis`.
    public func ticket(now: EpochMillis = WallClock.nowMillis()) -> Ticket? {
        state.withLock { s in
            guard let id = s.redirectID, now - s.heardAt <= silenceMillis else { return nil }
            return Ticket(redirectID: id, server: s.server, epoch: s.epoch, sequence: s.sequence)
        }
    }

    public func lookup(_ digest: String, now: EpochMillis) -> TokenRecord? {
        state.withLock { s -> TokenRecord? in
            guard s.redirectID != nil, now - s.heardAt <= silenceMillis, let e = s.entries[digest] else { return nil }
            guard now < e.validUntil else {
                s.entries[digest] = nil
                return nil
            }
            return e.record
        }
    }

    /// Stores a record read under `ticket`, unless anything was invalidated since.
    /// Every invalidation, flush and tracking (re)start bumps `sequence`, so it alone
    /// tells whether the read may be stale.
    public func store(_ record: TokenRecord, ticket: Ticket, now: EpochMillis) {
        let until = min(now + timeoutMillis, record.expiry ?? .max)
        guard until > now else { return }
        state.withLock { s in
            guard s.sequence == ticket.sequence else { return }
            if s.entries.count >= capacity { s.entries.removeAll(keepingCapacity: true) }
            s.entries[record.digest] = Entry(record: record, validUntil: until)
        }
    }

    // MARK: Fed by the invalidation listener

    func trackingStarted(redirectID: Int64, server: String, now: EpochMillis = WallClock.nowMillis()) {
        state.withLock { s in
            s.removeAll()
            s.redirectID = redirectID
            s.server = server
            s.heardAt = now
            s.epoch += 1
        }
    }

    /// The subscriber heard from its server: the cache stays trusted.
    func heard(now: EpochMillis = WallClock.nowMillis()) {
        state.withLock { $0.heardAt = now }
    }

    func trackingLost() {
        state.withLock { s in
            s.removeAll()
            s.redirectID = nil
        }
    }

    /// Keys Redis reports as changed; nil means everything (FLUSHDB/FLUSHALL).
    /// Only token keys are ever read on the cached path: logout, refresh, expiry,
    /// removals and user (de)activation all write them.
    func invalidate(keys changed: [String]?) {
        invalidationCount.add(1, ordering: .relaxed)
        let tokenPrefix = keys.token("")
        state.withLock { s in
            s.sequence += 1
            guard let changed else { return s.removeAll() }
            for key in changed where key.hasPrefix(tokenPrefix) {
                s.entries[String(key.dropFirst(tokenPrefix.count))] = nil
            }
        }
    }
}

extension VerificationCache.State {
    mutating func removeAll() {
        sequence += 1
        entries.removeAll(keepingCapacity: true)
    }
}

/// The thread that receives Redis's invalidation messages for every worker's
/// tracked reads, and reconnects (flushing the cache) whenever its connection drops
/// or its server falls silent.
public struct InvalidationListener: Sendable {
    let endpoint: RedisEndpoint
    let cache: VerificationCache
    /// Told when invalidations work again after a loss, and when they are lost
    /// (with the error, the first time of a run of failures).
    let restored: @Sendable () -> Void
    let lost: @Sendable (String) -> Void
    /// How often a quiet subscription is pinged; a third of the cache's silence bound,
    /// so a healthy but idle server never lets the cache lapse.
    var pingMillis: Int { Int(max(50, cache.silenceMillis / 3)) }

    public init(endpoint: RedisEndpoint, cache: VerificationCache,
                restored: @escaping @Sendable () -> Void, lost: @escaping @Sendable (String) -> Void) {
        self.endpoint = endpoint
        self.cache = cache
        self.restored = restored
        self.lost = lost
    }

    /// Runs forever on the calling thread.
    public func run() {
        let connection = RedisConnection(endpoint: endpoint, readTimeout: false)
        var failures = 0
        while true {
            do throws(RedisError) {
                try subscribe(connection)
                if failures > 0 { restored() }
                failures = 0
                try listen(connection)
            } catch {
                cache.trackingLost()
                connection.disconnect()
                if failures == 0 { lost("\(error)") }
                failures += 1
                Thread.sleep(forTimeInterval: min(2.0, 0.05 * Double(failures)))
            }
        }
    }

    private func subscribe(_ connection: RedisConnection) throws(RedisError) {
        guard let id = try connection.send("CLIENT", "ID").int else { throw .server("CLIENT ID") }
        guard let server = try connection.send("CLIENT", "INFO").serverAddress else { throw .server("CLIENT INFO") }
        let subscribed = try connection.send("SUBSCRIBE", "__redis__:invalidate")
        guard subscribed.array?.first?.string == "subscribe" else { throw .server("SUBSCRIBE: \(subscribed)") }
        cache.trackingStarted(redirectID: id, server: server)
    }

    /// Feeds invalidations to the cache until the connection fails or the server
    /// leaves a ping unanswered past the cache's silence bound.
    private func listen(_ connection: RedisConnection) throws(RedisError) {
        var lastHeard = WallClock.nowMillis()
        var pinged = false
        while true {
            guard let message = try connection.readPush(within: pingMillis) else {
                let silent = WallClock.nowMillis() - lastHeard
                if silent > cache.silenceMillis { throw .unavailable("no answer from Redis for \(silent) ms") }
                if !pinged {
                    try connection.sendOnly(["PING"])
                    pinged = true
                }
                continue
            }
            lastHeard = WallClock.nowMillis()
            pinged = false
            cache.heard(now: lastHeard)
            guard let parts = message.array, parts.count == 3, parts[0].string == "message" else { continue }
            if case .array(let keys) = parts[2] {
                cache.invalidate(keys: keys.compactMap(\.string))
            } else {
                cache.invalidate(keys: nil)
            }
        }
    }
}

extension RedisReply {
    /// The server's own address in a `CLIENT INFO` reply (`laddr=`): which server a
    /// connection reached, whatever name or sentinel led to it.
    var serverAddress: String? {
        guard let text = string else { return nil }
        for field in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) where field.hasPrefix("laddr=") {
            return String(field.dropFirst("laddr=".count))
        }
        return nil
    }
}

/// A worker's view of the cache: "the cached record, or take the full path". A hit
/// costs no Redis round trip; a miss reads the token with a tracked plain read
/// (turning tracking on for this connection first whenever the connection or the
/// listener changed) and caches it. Anything else (not valid as it stands, Redis
/// trouble, tracking down) sends the caller to the full path, which gives durin's
/// exact answer.
public final class CachedTokenReader {
    public enum Found: Equatable {
        /// Served from memory.
        case hit(TokenRecord)
        /// Read from Redis under tracking, and cached.
        case fetched(TokenRecord)
        /// Looked for and not cached: take the full path.
        case miss
        /// Tracking is down, the cache is empty: take the full path.
        case bypassed
    }

    private let store: TokenStore
    private let cache: VerificationCache
    /// The listener epoch and connection generation tracking was turned on for.
    private var tracking: (epoch: Int, generation: Int)?

    public init(store: TokenStore, cache: VerificationCache) {
        self.store = store
        self.cache = cache
    }

    public func record(digest: String, now: EpochMillis = WallClock.nowMillis()) -> Found {
        guard let ticket = cache.ticket() else { return .bypassed }
        if let hit = cache.lookup(digest, now: now) { return .hit(hit) }
        let connection = store.connection
        do {
            if tracking?.epoch != ticket.epoch || tracking?.generation != connection.generation || !connection.isConnected {
                // After a failover this connection and the subscriber may have
                // reached different servers: a redirect to the subscriber's client id
                // would then name some other client there, or none.
                guard try store.serverAddress() == ticket.server else { return .miss }
                try store.enableTracking(redirect: ticket.redirectID)
                tracking = (ticket.epoch, connection.generation)
            }
            // Cached only if the read happened on the connection that tracks it.
            if let record = try store.trackedLookup(digest: digest), connection.generation == tracking?.generation {
                cache.store(record, ticket: ticket, now: now)
                return .fetched(record)
            }
        } catch {
            tracking = nil
        }
        return .miss
    }
}
