package import DurinCore
package import DurinHTTP
package import DurinServer
import DurinStore
import Foundation
import Logging
import Synchronization

/// A wall clock a test moves: an idle timeout or an expiry passes at once.
package final class TestClock: WallTime {
    private let millis: Mutex<EpochMillis>

    package init(_ start: EpochMillis = WallClock.nowMillis()) { millis = Mutex(start) }

    package func nowMillis() -> EpochMillis { millis.withLock { $0 } }

    package func advance(seconds: Int64) { millis.withLock { $0 += seconds * 1000 } }
}

/// The responder's routes in process: the same router, dispatcher and handlers as
/// a worker runs, against a real redis-server, without FastCGI or nginx. A login's
/// password is checked here as a hasher would check it.
package final class RouteClient {
    package let api: API
    package let metrics: Metrics

    package init(
        redis: RedisServer, configuration: Configuration, router: Router = Router(groups: [API.routes]),
        clock: any WallTime = .system
    ) {
        metrics = Metrics(threads: 1, router: router) { Metrics.Readings() }
        let settings = ServiceSettings(configuration: configuration, router: router, clock: clock)
        api = API(
            settings: settings,
            tokens: TokenStore(connection: redis.connection(), configuration: configuration, clock: clock),
            metrics: metrics, logger: Logger(label: "test"))
    }

    /// One request as a worker would answer it, counted as it would be.
    package func call(_ request: HTTPRequest) -> HTTPResponse {
        let handled = api.handle(request)
        switch handled.handling {
        case .respond(let response):
            api.count(response, handled.context)
            return response
        case .checkPassword(let job):
            return api.completeLogin(job)
        }
    }
}

extension HTTPResponse {
    package var text: String { String(decoding: body, as: UTF8.self) }
    package var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
    package var object: [String: Any] { json as? [String: Any] ?? [:] }
    package var detail: String? { object["detail"] as? String }
    package func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}
