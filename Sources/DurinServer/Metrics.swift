package import DurinCore
package import FastCGI
import Foundation
import Synchronization

/// The responder's Prometheus metrics (`GET metrics/`, where nginx sets
/// `fastcgi_param DURIN_METRICS 1`).
///
/// Every thread that counts (workers, hashers) owns one `Slot` and is its only
/// writer, so the request path takes no lock and shares no cache line with another
/// thread's counters: a scrape sums the slots. The per-client token counters are
/// the exception, behind a per-slot lock that only login and revocation take and
/// that nothing contends but a scrape.
package final class Metrics: Sendable {
    private let readings: @Sendable () -> Readings

    /// Label values of `durin_requests_total`'s `route`: the router's, "unknown" last.
    let routes: [String]
    /// The routes the console's overview sums (nil: not in this router).
    private let verifyRoute: Int?
    private let loginRoute: Int?
    /// The statuses durin answers with; anything else counts as "other".
    static let statuses = [200, 201, 204, 400, 401, 403, 404, 405, 413, 415, 429, 500, 503]
    /// Upper bounds in seconds. Verification is ~0.1–5 ms; a password hash 10 ms–1 s.
    static let verifyBounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
    static let hashBounds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// A counter with one writer: a relaxed load and store (no locked instruction).
    package final class Counter: Sendable {
        private let value = Atomic(0)
        package func add(_ n: Int = 1) { value.store(value.load(ordering: .relaxed) &+ n, ordering: .relaxed) }
        var current: Int { value.load(ordering: .relaxed) }
    }

    /// Counts by API client: names are open-ended, so a dictionary behind a lock.
    final class ClientCounts: Sendable {
        private let counts = Mutex<[String: Int]>([:])
        func add<C: Sequence>(_ clients: C) where C.Element == String {
            counts.withLock { for c in clients { $0[c, default: 0] += 1 } }
        }
        var snapshot: [String: Int] { counts.withLock { $0 } }
    }

    final class Histogram: Sendable {
        let bounds: [Double]
        /// Per bucket (not cumulative), plus one for +Inf.
        let buckets: [Counter]
        let sumNanos = Counter()
        let count = Counter()
        private let boundNanos: [Int]

        init(bounds: [Double]) {
            self.bounds = bounds
            boundNanos = bounds.map { Int($0 * 1e9) }
            buckets = (0...bounds.count).map { _ in Counter() }
        }

        func observe(nanos: Int) {
            var i = 0
            while i < boundNanos.count && nanos > boundNanos[i] { i += 1 }
            buckets[i].add()
            sumNanos.add(nanos)
            count.add()
        }
    }

    /// One thread's counters.
    package final class Slot: Sendable {
        let requests: [Counter]
        let verifyLatency = Histogram(bounds: Metrics.verifyBounds)
        let hashTime = Histogram(bounds: Metrics.hashBounds)
        let cacheHits = Counter()
        let cacheMisses = Counter()
        package let redisErrors = Counter()
        let redisReconnects = Counter()
        let proxyRefusals = Counter()
        let issued = ClientCounts()
        let revoked = ClientCounts()

        init(routes: Int) {
            requests = (0..<(routes * (Metrics.statuses.count + 1))).map { _ in Counter() }
        }

        func request(route: Int, status: Int) {
            let s = Metrics.statuses.firstIndex(of: status) ?? Metrics.statuses.count
            requests[route * (Metrics.statuses.count + 1) + s].add()
        }

        package func tokenIssued(client: String) { issued.add(CollectionOfOne(client)) }
        package func tokensRevoked<C: Sequence>(clients: C) where C.Element == String { revoked.add(clients) }
    }

    private let slots: [Slot]
    private let next = Atomic(0)
    /// The console's charts: a summary every `sampleSeconds`, the last `samplesKept`.
    private let samples = Mutex<[(time: EpochMillis, summary: Summary)]>([])
    static let sampleSeconds = 15
    static let samplesKept = 40

    /// - Parameter threads: how many threads will take a slot.
    /// - Parameter readings: the gauges kept elsewhere (login queue, cache), read per scrape.
    package init(threads: Int, router: Router, readings: @escaping @Sendable () -> Readings) {
        routes = router.labels
        verifyRoute = router.index(of: "verify")
        loginRoute = router.index(of: "login")
        slots = (0..<threads).map { [routes] _ in Slot(routes: routes.count) }
        self.readings = readings
    }

    /// The calling thread's slot; each thread takes one, once.
    package func takeSlot() -> Slot {
        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
        precondition(i < slots.count, "more counting threads than metric slots")
        return slots[i]
    }

    /// What the console's overview shows of this responder's counters since it started.
    package struct Summary: Sendable {
        /// Token checks answered (verify/ and auth_request), any status.
        package var checks = 0
        /// Password logins that got a token, and that were refused.
        package var logins = 0
        package var loginFailures = 0
        package var cacheHits = 0
        package var cacheMisses = 0
        package var redisErrors = 0
    }

    package func summary() -> Summary {
        var s = Summary()
        let width = Metrics.statuses.count + 1
        func requests(_ route: Int?, _ status: Int?) -> Int {
            guard let route else { return 0 }
            return slots.reduce(0) { total, slot in
                let base = route * width
                if let status, let i = Metrics.statuses.firstIndex(of: status) { return total + slot.requests[base + i].current }
                return total + (0..<width).reduce(0) { $0 + slot.requests[base + $1].current }
            }
        }
        s.checks = requests(verifyRoute, nil)
        s.logins = requests(loginRoute, 200)
        s.loginFailures = requests(loginRoute, 400) + requests(loginRoute, 429)
        for slot in slots {
            s.cacheHits += slot.cacheHits.current
            s.cacheMisses += slot.cacheMisses.current
            s.redisErrors += slot.redisErrors.current
        }
        return s
    }

    /// Takes a summary every `sampleSeconds` on a thread of its own, for the console's
    /// per-minute charts (the last ten minutes): summing the slots costs microseconds.
    package func startSampling() {
        let thread = Thread { [self] in
            while true {
                let taken = (WallClock.nowMillis(), summary())
                samples.withLock { list in
                    list.append(taken)
                    if list.count > Self.samplesKept { list.removeFirst(list.count - Self.samplesKept) }
                }
                Thread.sleep(forTimeInterval: TimeInterval(Self.sampleSeconds))
            }
        }
        thread.stackSize = 1 << 18
        thread.start()
    }

    /// The summaries taken so far, oldest first.
    package func history() -> [(time: EpochMillis, summary: Summary)] { samples.withLock { $0 } }

    /// Gauges and counters kept outside the slots, read at scrape time.
    package struct Readings: Sendable {
        package var loginQueueDepth = 0
        package var loginQueueCapacity = 0
        package var cacheEntries = 0
        package var cacheInvalidations = 0
        package var fastcgi = ConnectionIntake.Counts()

        package init() {}

        package init(
            loginQueueDepth: Int, loginQueueCapacity: Int, cacheEntries: Int, cacheInvalidations: Int,
            fastcgi: ConnectionIntake.Counts
        ) {
            self.loginQueueDepth = loginQueueDepth
            self.loginQueueCapacity = loginQueueCapacity
            self.cacheEntries = cacheEntries
            self.cacheInvalidations = cacheInvalidations
            self.fastcgi = fastcgi
        }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    package func render() -> String {
        let readings = readings()
        var out = Exposition()
        let width = Metrics.statuses.count + 1
        out.header("durin_requests_total", "counter", "Requests answered, by route and HTTP status.")
        for (r, route) in routes.enumerated() {
            for s in 0..<width {
                let n = slots.reduce(0) { $0 + $1.requests[r * width + s].current }
                guard n > 0 else { continue }
                let status = s < Metrics.statuses.count ? String(Metrics.statuses[s]) : "other"
                out.sample("durin_requests_total", [("route", route), ("status", status)], n)
            }
        }
        out.histogram(
            "durin_verify_duration_seconds",
            "Time from accepting a verify/ request until its answer is ready (auth_request included).",
            slots.map(\.verifyLatency))
        out.header("durin_cache_hits_total", "counter", "Verifications answered from the in-process cache.")
        out.sample("durin_cache_hits_total", [], slots.reduce(0) { $0 + $1.cacheHits.current })
        out.header("durin_cache_misses_total", "counter", "Cached-location verifications that read Redis.")
        out.sample("durin_cache_misses_total", [], slots.reduce(0) { $0 + $1.cacheMisses.current })
        out.header("durin_cache_invalidations_total", "counter", "Invalidation messages from Redis client tracking.")
        out.sample("durin_cache_invalidations_total", [], readings.cacheInvalidations)
        out.header("durin_cache_entries", "gauge", "Tokens in the in-process cache.")
        out.sample("durin_cache_entries", [], readings.cacheEntries)
        out.header("durin_login_queue_depth", "gauge", "Logins waiting for or being checked by a hasher thread.")
        out.sample("durin_login_queue_depth", [], readings.loginQueueDepth)
        out.header("durin_login_queue_capacity", "gauge", "Waiting logins beyond which login/ answers 503 (DURIN_LOGIN_QUEUE).")
        out.sample("durin_login_queue_capacity", [], readings.loginQueueCapacity)
        out.histogram(
            "durin_password_hash_duration_seconds", "Time to check one password (PBKDF2), decoys included.",
            slots.map(\.hashTime))
        out.header("durin_redis_errors_total", "counter", "Requests that failed on Redis (unreachable, timed out or refused).")
        out.sample("durin_redis_errors_total", [], slots.reduce(0) { $0 + $1.redisErrors.current })
        out.header("durin_redis_reconnects_total", "counter", "Redis connections made again after one was lost.")
        out.sample("durin_redis_reconnects_total", [], slots.reduce(0) { $0 + $1.redisReconnects.current })
        out.header(
            "durin_proxy_key_refusals_total", "counter",
            "Requests refused for a missing or wrong DURIN_PROXY_KEY param: not sent by nginx.")
        out.sample("durin_proxy_key_refusals_total", [], slots.reduce(0) { $0 + $1.proxyRefusals.current })
        out.header(
            "durin_fastcgi_timeouts_total", "counter",
            "FastCGI connections closed unanswered: their request was not whole within DURIN_FASTCGI_TIMEOUT.")
        out.sample("durin_fastcgi_timeouts_total", [], readings.fastcgi.timedOut)
        out.header(
            "durin_fastcgi_waited_total", "counter",
            "FastCGI requests that had not arrived whole at the first look (waited for in the epoll set).")
        out.sample("durin_fastcgi_waited_total", [], readings.fastcgi.waited)
        out.header("durin_fastcgi_accepted_total", "counter", "FastCGI connections accepted.")
        out.sample("durin_fastcgi_accepted_total", [], readings.fastcgi.accepted)
        out.header(
            "durin_fastcgi_reused_total", "counter",
            "FastCGI requests that came on a connection kept from an earlier request (fastcgi_keep_conn).")
        out.sample("durin_fastcgi_reused_total", [], readings.fastcgi.reused)
        out.header(
            "durin_fastcgi_idle_closed_total", "counter", "Kept FastCGI connections closed after 5 minutes without a request.")
        out.sample("durin_fastcgi_idle_closed_total", [], readings.fastcgi.idleClosed)
        out.header(
            "durin_fastcgi_connections", "gauge",
            "Open FastCGI connections: kept (their last request carried the proxy key) and unproven ones waiting for a request.")
        out.sample("durin_fastcgi_connections", [("state", "kept")], readings.fastcgi.proven)
        out.sample("durin_fastcgi_connections", [("state", "unproven")], readings.fastcgi.unprovenWaiting)
        out.header("durin_fastcgi_abandoned_total", "counter", "FastCGI connections closed by the peer before their request was whole.")
        out.sample("durin_fastcgi_abandoned_total", [], readings.fastcgi.abandoned)
        out.header("durin_fastcgi_refused_total", "counter", "FastCGI connections closed for sending what no web server sends.")
        for reason in RequestFraming.Refusal.allCases {
            out.sample("durin_fastcgi_refused_total", [("reason", reason.rawValue)], readings.fastcgi.refused[reason] ?? 0)
        }
        for (name, help, pick) in [
            ("durin_tokens_issued_total", "New tokens, by API client (login, issue/, apiaccess/).", \Slot.issued),
            ("durin_tokens_revoked_total", "Tokens revoked through the API, by API client.", \Slot.revoked),
        ] {
            out.header(name, "counter", help)
            var total: [String: Int] = [:]
            for slot in slots { total.merge(slot[keyPath: pick].snapshot, uniquingKeysWith: +) }
            for client in total.keys.sorted() { out.sample(name, [("client", client)], total[client]!) }
        }
        return out.text
    }
}

extension Duration {
    var nanoseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) &* 1_000_000_000 &+ Int(attoseconds / 1_000_000_000)
    }
}

/// Writes the text format: HELP/TYPE lines, samples with escaped label values.
private struct Exposition {
    var text = ""

    mutating func header(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: some CustomStringConvertible) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    mutating func histogram(_ name: String, _ help: String, _ parts: [Metrics.Histogram]) {
        header(name, "histogram", help)
        guard let bounds = parts.first?.bounds else { return }
        var cumulative = 0
        for (i, bound) in bounds.enumerated() {
            cumulative += parts.reduce(0) { $0 + $1.buckets[i].current }
            sample(name + "_bucket", [("le", Self.number(bound))], cumulative)
        }
        cumulative += parts.reduce(0) { $0 + $1.buckets[bounds.count].current }
        sample(name + "_bucket", [("le", "+Inf")], cumulative)
        let sum = Double(parts.reduce(0) { $0 + $1.sumNanos.current }) / 1e9
        sample(name + "_sum", [], Self.number(sum))
        sample(name + "_count", [], parts.reduce(0) { $0 + $1.count.current })
    }

    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) + ".0" : String(x)
    }

    static func escaped(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
