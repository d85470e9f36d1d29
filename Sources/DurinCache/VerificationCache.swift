package import DurinCore
package import DurinStore
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
package final class VerificationCache: Sendable {
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

    package init(timeoutSeconds: Int64, keys: KeySpace, capacity: Int = 100_000, silenceMillis: Int64 = 750) {
        timeoutMillis = timeoutSeconds * 1000
        self.keys = keys
        self.capacity = capacity
        self.silenceMillis = silenceMillis
    }

    /// What a worker needs to use the cache: nil while tracking is down.
    package struct Ticket: Equatable, Sendable {
        package let redirectID: Int64
        /// The subscriber's server (`CLIENT INFO` `laddr`).
        package let server: String
        package let epoch: Int
        let sequence: Int
    }

    /// Invalidation messages received (each a set of keys, or a flush).
    package var invalidations: Int { invalidationCount.load(ordering: .relaxed) }
    package var count: Int { state.withLock { $0.entries.count } }

    /// nil while tracking is down, or while the subscriber has heard nothing from
    /// its server for longer than `silenceMillis`.
    package func ticket(now: EpochMillis = WallClock.nowMillis()) -> Ticket? {
        state.withLock { s in
            guard let id = s.redirectID, now - s.heardAt <= silenceMillis else { return nil }
            return Ticket(redirectID: id, server: s.server, epoch: s.epoch, sequence: s.sequence)
        }
    }

    package func lookup(_ digest: String, now: EpochMillis) -> TokenRecord? {
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
    package func store(_ record: TokenRecord, ticket: Ticket, now: EpochMillis) {
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
        state.withLock { s in
            s.sequence += 1
            guard let changed else { return s.removeAll() }
            for key in changed {
                if let digest = keys.digest(ofTokenKey: key) { s.entries[digest] = nil }
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
