import DurinCore
import DurinStore
import Foundation
package import RedisClient
import Synchronization

/// The thread that receives Redis's invalidation messages for every worker's
/// tracked reads, and reconnects (flushing the cache) whenever its connection drops
/// or its server falls silent.
package struct InvalidationListener: Sendable {
    let endpoint: RedisEndpoint
    let cache: VerificationCache
    /// Told when invalidations work again after a loss, and when they are lost
    /// (with the error, the first time of a run of failures).
    let restored: @Sendable () -> Void
    let lost: @Sendable (String) -> Void
    /// How often a quiet subscription is pinged; a third of the cache's silence bound,
    /// so a healthy but idle server never lets the cache lapse.
    var pingMillis: Int { Int(max(50, cache.silenceMillis / 3)) }

    package init(
        endpoint: RedisEndpoint, cache: VerificationCache,
        restored: @escaping @Sendable () -> Void, lost: @escaping @Sendable (String) -> Void
    ) {
        self.endpoint = endpoint
        self.cache = cache
        self.restored = restored
        self.lost = lost
    }

    /// Runs forever on the calling thread.
    package func run() {
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
