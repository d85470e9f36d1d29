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

    public init(timeoutSeconds: Int64, keys: KeySpace, capacity: Int = 100_000) {
        timeoutMillis = timeoutSeconds * 1000
        self.keys = keys
        self.capacity = capacity
    }

    /// What a worker needs to use the cache: nil while tracking is down.
    public struct Ticket: Equatable, Sendable {
        public let redirectID: Int64
        public let epoch: Int
        let sequence: Int
    }

    /// Invalidation messages received (each a set of keys, or a flush).
    public var invalidations: Int { invalidationCount.load(ordering: .relaxed) }
    public var count: Int { state.withLock { $0.entries.count } }

    public func ticket() -> Ticket? {
        state.withLock { s in s.redirectID.map { Ticket(redirectID: $0, epoch: s.epoch, sequence: s.sequence) } }
    }

    public func lookup(_ digest: String, now: EpochMillis) -> TokenRecord? {
        state.withLock { s -> TokenRecord? in
            guard s.redirectID != nil, let e = s.entries[digest] else { return nil }
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

    func trackingStarted(redirectID: Int64) {
        state.withLock { s in
            s.removeAll()
            s.redirectID = redirectID
            s.epoch += 1
        }
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
/// tracked reads, and reconnects (flushing the cache) whenever its connection drops.
public struct InvalidationListener: Sendable {
    let endpoint: RedisEndpoint
    let cache: VerificationCache
    /// Told when invalidations work again after a loss, and when they are lost
    /// (with the error, the first time of a run of failures).
    let restored: @Sendable () -> Void
    let lost: @Sendable (String) -> Void

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
                guard let id = try connection.send("CLIENT", "ID").int else { throw .server("CLIENT ID") }
                let subscribed = try connection.send("SUBSCRIBE", "__redis__:invalidate")
                guard subscribed.array?.first?.string == "subscribe" else { throw .server("SUBSCRIBE: \(subscribed)") }
                cache.trackingStarted(redirectID: id)
                if failures > 0 { restored() }
                failures = 0
                while true {
                    let message = try connection.readPush()
                    guard let parts = message.array, parts.count == 3, parts[0].string == "message" else { continue }
                    if case .array(let keys) = parts[2] {
                        cache.invalidate(keys: keys.compactMap(\.string))
                    } else {
                        cache.invalidate(keys: nil)
                    }
                }
            } catch {
                cache.trackingLost()
                connection.disconnect()
                if failures == 0 { lost("\(error)") }
                failures += 1
                Thread.sleep(forTimeInterval: min(2.0, 0.05 * Double(failures)))
            }
        }
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
