import DurinCore
import DurinStore
import Foundation
import Logging
import RedisClient
import Synchronization

/// durin's CachedTokenAuthentication, done right: verified tokens are kept in
/// memory for up to DURIN_TOKEN_CACHE_TIMEOUT (never past their expiry), and Redis
/// client tracking removes an entry the moment its token or user changes, so a
/// revoked token is never served from here.
///
/// Shared by all worker threads. An `InvalidationListener` thread feeds it; while
/// that connection is down the cache is empty and bypassed.
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
struct InvalidationListener {
    let endpoint: RedisEndpoint
    let cache: VerificationCache
    let logger: Logger

    func run() {
        let connection = RedisConnection(endpoint: endpoint, readTimeout: false)
        var failures = 0
        while true {
            do throws(RedisError) {
                guard let id = try connection.send("CLIENT", "ID").int else { throw .server("CLIENT ID") }
                let subscribed = try connection.send("SUBSCRIBE", "__redis__:invalidate")
                guard subscribed.array?.first?.string == "subscribe" else { throw .server("SUBSCRIBE: \(subscribed)") }
                cache.trackingStarted(redirectID: id)
                if failures > 0 { logger.notice("cache invalidation restored") }
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
                if failures == 0 { logger.warning("cache bypassed: invalidation connection lost", metadata: ["error": "\(error)"]) }
                failures += 1
                Thread.sleep(forTimeInterval: min(2.0, 0.05 * Double(failures)))
            }
        }
    }
}
