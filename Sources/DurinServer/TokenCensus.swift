package import DurinCore
import DurinStore
import Foundation
package import RedisClient
import Synchronization

/// About how many live tokens each client has, for the console: counted by a walk
/// over every user (AdminStore.tokenCounts) on a thread of its own, never on a
/// worker, at most once per `maxAge`, and only while someone looks. At a million
/// users a count takes some seconds of Redis time, spread over small round trips.
package final class TokenCensus: Sendable {
    package struct Counts: Sendable {
        package var byClient: [String: Int] = [:]
        /// When the last count finished; nil: none yet.
        package var countedAt: EpochMillis?
        /// A count is under way.
        package var counting = false
        /// Why the last count failed, if it did.
        package var problem: String?
    }

    private let state = Mutex(Counts())
    private let endpoint: RedisEndpoint
    private let configuration: Configuration
    private let maxAgeMillis: EpochMillis

    package init(endpoint: RedisEndpoint, configuration: Configuration, maxAgeMillis: EpochMillis = 60_000) {
        self.endpoint = endpoint
        self.configuration = configuration
        self.maxAgeMillis = maxAgeMillis
    }

    /// The latest counts; starts a new count when they are older than `maxAge` (or
    /// when `fresh`, after a change the operator wants to see counted).
    package func counts(fresh: Bool = false, now: EpochMillis = WallClock.nowMillis()) -> Counts {
        var start = false
        let current = state.withLock { s -> Counts in
            if !s.counting && (fresh || s.countedAt.map { now - $0 > maxAgeMillis } ?? true) {
                s.counting = true
                start = true
            }
            return s
        }
        if start {
            let thread = Thread { [self] in self.count() }
            thread.stackSize = 1 << 20
            thread.start()
        }
        return current
    }

    private func count() {
        let connection = endpoint.connection(timeoutMilliseconds: max(configuration.redisTimeoutMillis, 5000))
        let admin = AdminStore(connection: connection, configuration: configuration)
        do {
            let clients = try admin.clients().map(\.name)
            let counts = try admin.tokenCounts(clients: clients)
            state.withLock { $0 = Counts(byClient: counts, countedAt: WallClock.nowMillis(), counting: false, problem: nil) }
        } catch {
            state.withLock {
                $0.counting = false
                $0.problem = error.description
            }
        }
    }
}
