package import DurinCore
package import DurinStore
import Foundation
import RedisClient
import Synchronization

/// A worker's view of the cache: "the cached record, or take the full path". A hit
/// costs no Redis round trip; a miss reads the token with a tracked plain read
/// (turning tracking on for this connection first whenever the connection or the
/// listener changed) and caches it. Anything else (not valid as it stands, Redis
/// trouble, tracking down) sends the caller to the full path, which gives durin's
/// exact answer.
package final class CachedTokenReader {
    package enum Found: Equatable {
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

    package init(store: TokenStore, cache: VerificationCache) {
        self.store = store
        self.cache = cache
    }

    package func record(digest: String, now: EpochMillis = WallClock.nowMillis()) -> Found {
        guard let ticket = cache.ticket() else { return .bypassed }
        if let hit = cache.lookup(digest, now: now) {
            // Past its idle timeout: the full path removes it and answers that it expired.
            return store.isIdle(hit, now: now) ? .miss : .hit(hit)
        }
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
