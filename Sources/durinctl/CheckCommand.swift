import ArgumentParser
import DurinCore
import DurinStore
import Foundation
import RedisClient

/// `durinctl check`: what would fail in production, found before it does.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the configuration, Redis and its ACL rights, the secret, the clients and the nginx snippets.",
        discussion: """
            Reads the service's settings (/etc/durin/durin.env, or --env-file), as durin-fcgi gets them.
            Prints one line per check and what to fix; exits 1 when something would fail in production.
            """)

    @Option(help: "Where the nginx snippets are installed.") var nginxDir = "/etc/nginx/durin"
    @Option(help: "nginx's configuration root, searched for the `upstream durin` block.") var nginxRoot = "/etc/nginx"
    @Flag(help: "Skip the nginx checks (durin on another host than nginx).") var noNginx = false
    @Option(help: "Redis's configuration file, read for its client memory caps when CONFIG is not granted.")
    var redisConf = "/etc/redis/redis.conf"
    @OptionGroup var settings: Settings

    /// One finding: `ok`, a `warning` (works, but not as it should in production) or a failure.
    enum Level: String {
        case ok = "ok  "
        case warning = "warn"
        case failure = "FAIL"
    }

    final class Report {
        var failures = 0
        func say(_ level: Level, _ what: String) {
            Terminal.out("\(level.rawValue)  \(what)")
            if level == .failure { failures += 1 }
        }
    }

    func run() throws {
        let report = Report()
        let config: Configuration
        do {
            config = try Configuration.fromEnvironment(try settings.environment())
            report.say(.ok, "settings: every DURIN_* value is valid")
        } catch {
            report.say(.failure, "settings: \(error)")
            throw ExitCode(1)
        }
        if config.secretKey != nil {
            report.say(.ok, "DURIN_SECRET_KEY: strong enough to seal tokens")
        } else {
            report.say(
                .warning,
                "DURIN_SECRET_KEY is not set: the sealing secret is kept in Redis itself, so a copy of "
                    + "the Redis data can recreate live tokens; set one: openssl rand -hex 32")
        }
        checkRedis(config, report)
        if !noNginx {
            checkNginx(report)
            checkProxyKey(config, report)
            checkProxyKeyExposure(report)
        }
        Terminal.out(report.failures == 0 ? "durin: ready for production" : "durin: \(report.failures) problem(s) to fix")
        if report.failures > 0 { throw ExitCode(1) }
    }

    private func checkRedis(_ config: Configuration, _ report: Report) {
        let endpoint: RedisEndpoint
        do { endpoint = try RedisEndpoint.parse(config.redisURL) } catch {
            report.say(.failure, "DURIN_REDIS_URL: \(error)")
            return
        }
        let connection = endpoint.connection(timeoutMilliseconds: config.redisTimeoutMillis)
        let keys = KeySpace(configuration: config)
        do {
            try RedisRights.check(connection, keys: keys, tracking: config.tokenCacheTimeout > 0 && !endpoint.isCluster)
            report.say(.ok, "Redis at \(endpoint): reachable, and its user may run every command durin needs on \(keys.prefix)*")
        } catch .unavailable(let why) {
            report.say(.failure, "Redis at \(endpoint) is unreachable (\(why)): start it, or fix DURIN_REDIS_URL")
            return
        } catch {
            report.say(.failure, "Redis at \(endpoint): \(error)")
            return
        }
        if endpoint.password == nil {
            report.say(.warning, "DURIN_REDIS_URL has no credentials: give durin its own ACL user (docs/redis.md)")
        }
        checkRedisExposure(endpoint, config, report)
        checkRedisSettings(connection, report)
        checkClientMemory(connection, report)

        let admin = AdminStore(connection: connection, configuration: config)
        do {
            let clients = try admin.clients()
            if clients.isEmpty {
                report.say(.failure, "no API clients: every login answers \"No client with that name.\"; add one: durinctl client add web")
            } else {
                report.say(.ok, "API clients: " + clients.map(\.name).sorted().joined(separator: ", "))
            }
            if let name = config.apiAccessClientName {
                if clients.contains(where: { $0.name == name }) {
                    report.say(.ok, "DURIN_API_ACCESS_CLIENT_NAME: client \(name) exists")
                } else {
                    report.say(
                        .failure,
                        "DURIN_API_ACCESS_CLIENT_NAME names \(name), which is no client: apiaccess/ answers 404; "
                            + "add it: durinctl client add \(name)")
                }
            }
        } catch {
            report.say(.failure, "reading the clients: \(error)")
        }
    }

    /// Who else reaches durin's Redis: a connection without credentials could read the
    /// sealing secret and forge tokens; a network listener lets other hosts try; clear
    /// TCP between hosts can be read on the way.
    private func checkRedisExposure(_ endpoint: RedisEndpoint, _ config: Configuration, _ report: Report) {
        for anonymous in RedisExposure.anonymousEndpoints(endpoint) {
            switch RedisExposure.anonymousPing(anonymous, timeoutMilliseconds: config.redisTimeoutMillis) {
            case .answered:
                report.say(
                    .failure,
                    "Redis at \(anonymous) runs commands for a connection without credentials: any local "
                        + "process can read and forge tokens. Give the default user a password no one knows (durin.acl's "
                        + "`user default on #<sha256 of a random value>`; not `off`, which loses data on Redis 7.0: docs/redis.md) "
                        + "and restart Redis")
            case .refused:
                report.say(.ok, "Redis at \(anonymous) refuses a connection without credentials")
            case .unreachable(let why):
                report.say(.warning, "Redis at \(anonymous): could not try a connection without credentials (\(why))")
            }
        }
        // A one-server Redis reached locally should have no network listener at all;
        // Sentinel and Cluster need TCP, on private addresses (docs/redis.md).
        let local: Bool
        switch endpoint.address {
        case .unix: local = true
        case .tcp(let host, _): local = RedisExposure.isLoopback(host)
        case .sentinel, .cluster: local = false
        }
        if local {
            switch RedisExposure.localRedisListeners() {
            case .found(let listeners):
                let exposed = listeners.filter { !$0.loopback }
                if exposed.isEmpty {
                    report.say(
                        .ok,
                        listeners.isEmpty
                            ? "Redis listens on no TCP address (unix socket only)"
                            : "Redis listens on loopback only (\(listeners.map(\.description).joined(separator: ", ")))")
                } else {
                    report.say(
                        .failure,
                        "Redis listens on \(exposed.map(\.description).joined(separator: ", ")): other hosts can "
                            + "reach it. Set `port 0` (the unix socket only, as durin-redis.conf does) or bind it to 127.0.0.1 (docs/redis.md)"
                    )
                }
            case .hidden:
                report.say(.warning, "Redis's listening addresses are not visible to this user: run durinctl check as root")
            case .noLocalRedis:
                break
            }
        }
        for node in RedisExposure.remoteNodes(endpoint) {
            report.say(
                .warning,
                "Redis at \(node) is reached over plain TCP: hiredis 0.14 has no TLS, so tokens' hashes and "
                    + "the Redis password cross the network in clear. Keep it on a private network or a tunnel (docs/redis.md)")
        }
    }

    /// Persistence and eviction: what decides whether a crash or full memory logs users out.
    /// CONFIG is usually not granted to durin's ACL user; then this is skipped, not failed.
    private func checkRedisSettings(_ connection: any RedisCommandConnection, _ report: Report) {
        func config(_ name: String) -> String? {
            guard let reply = try? connection.send("CONFIG", "GET", name), let items = reply.array, items.count == 2 else { return nil }
            return items[1].string
        }
        guard let policy = config("maxmemory-policy") else {
            report.say(
                .ok,
                "Redis persistence and eviction: not visible to this user (CONFIG is not granted); "
                    + "see docs/redis.md")
            return
        }
        if policy == "noeviction" {
            report.say(.ok, "Redis maxmemory-policy noeviction: full memory refuses logins instead of dropping tokens")
        } else {
            report.say(
                .failure,
                "Redis maxmemory-policy is \(policy): eviction would silently log users out; "
                    + "set maxmemory-policy noeviction")
        }
        let aof = config("appendonly") == "yes"
        let fsync = config("appendfsync") ?? "?"
        if aof {
            report.say(.ok, "Redis appendonly yes, appendfsync \(fsync)")
        } else {
            report.say(
                .warning,
                "Redis appendonly is off: a crash loses every token issued since the last snapshot; "
                    + "set appendonly yes (appendfsync everysec)")
        }
    }

    /// Whether another Redis client (the read-only inspection user, say) can make Redis
    /// refuse durin's writes by holding replies it never reads (durin-redis.conf).
    private func checkClientMemory(_ connection: any RedisCommandConnection, _ report: Report) {
        switch try? connection.send("CLIENT", "NO-EVICT", "on") {
        case .error(let message)?:
            report.say(
                .warning,
                "durin's Redis user may not keep its connections from client eviction (\(message)): grant "
                    + "+client|no-evict (durin.acl), or maxmemory-clients may close durin's own connections")
        case nil:
            report.say(.warning, "CLIENT NO-EVICT could not be tried")
        default:
            report.say(.ok, "durin's Redis connections are kept out of client eviction (CLIENT NO-EVICT)")
        }
        func config(_ name: String) -> String? {
            guard let reply = try? connection.send("CONFIG", "GET", name), let items = reply.array, items.count == 2 else { return nil }
            return items[1].string
        }
        let caps: RedisClientMemory
        let source: String
        if let limits = config("client-output-buffer-limit") {
            caps = RedisClientMemory(outputBufferLimit: limits, maxmemoryClients: config("maxmemory-clients"))
            source = "CONFIG"
        } else if let read = RedisClientMemory(configFile: redisConf) {
            caps = read
            source = redisConf
        } else {
            report.say(
                .warning,
                "Redis's client memory caps are not visible (CONFIG is not granted, \(redisConf) is not readable): "
                    + "make sure durin-redis.conf's client-output-buffer-limit and maxmemory-clients are in effect, or any client "
                    + "can make Redis refuse durin's writes (docs/redis.md)")
            return
        }
        let missing = caps.missing
        if missing.isEmpty {
            report.say(.ok, "Redis caps other clients' unread replies (client-output-buffer-limit normal, maxmemory-clients; \(source))")
        } else {
            report.say(
                .warning,
                "Redis (\(source)): " + missing.joined(separator: "; ") + ": a client that never reads its "
                    + "replies (even the read-only durin-inspect) can fill maxmemory, and then every login, refresh and logout "
                    + "fails; add durin-redis.conf's lines")
        }
    }

    /// nginx's proxy-key include: present, private, and holding the key durin-fcgi has.
    private func checkProxyKey(_ config: Configuration, _ report: Report) {
        let path = "\(nginxDir)/proxy-key.conf"
        guard let key = config.proxyKey else {
            report.say(.failure, "DURIN_PROXY_KEY is not set: durin-fcgi refuses to start without it (docs/security.md)")
            return
        }
        guard FileManager.default.fileExists(atPath: path) else {
            report.say(
                .failure,
                "nginx's proxy key \(path) is missing: durin refuses every request nginx sends; write it "
                    + "(fastcgi_param DURIN_PROXY_KEY \"<DURIN_PROXY_KEY>\";, root-only) and reload nginx (docs/security.md)")
            return
        }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue,
            let owner = (attributes[.ownerAccountID] as? NSNumber)?.intValue,
            mode & 0o077 != 0 || owner != 0
        {
            report.say(
                .failure,
                "\(path) is readable by others than root (mode \(String(mode, radix: 8)), owner uid \(owner)): any process "
                    + "that reads it can speak to durin as nginx; chown root: and chmod 0600 it")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            report.say(.warning, "\(path) is not readable by this user: run durinctl check as root to compare the proxy keys")
            return
        }
        guard let included = ProxyKey.fromNginxInclude(text) else {
            report.say(.failure, "\(path) holds no `fastcgi_param DURIN_PROXY_KEY \"...\";` line")
            return
        }
        if ProxyKey.admits(Array(included.utf8), key: key) {
            report.say(.ok, "nginx's proxy key (\(path)) is DURIN_PROXY_KEY")
        } else {
            report.say(
                .failure,
                "nginx's proxy key (\(path)) is not DURIN_PROXY_KEY: durin refuses every request nginx "
                    + "sends; make them equal and reload nginx")
        }
    }

    /// Who else could read the proxy key: processes of nginx's workers' user, where
    /// the kernel lets same-user processes read each other's memory.
    private func checkProxyKeyExposure(_ report: Report) {
        let user = ProxyKeyExposure.workerUser(nginxConf: "\(nginxRoot)/nginx.conf")
        guard let exposure = ProxyKeyExposure.read(user: user) else {
            report.say(.warning, "nginx's worker user \(user) (nginx.conf) is no user here: could not look for processes sharing it")
            return
        }
        if let problem = exposure.problem {
            report.say(.warning, problem)
        } else if exposure.sameUserTracing {
            report.say(
                .ok,
                "no process but nginx runs as \(user) (the kernel would let one read nginx's memory: "
                    + "keep other applications under users of their own)")
        } else {
            report.say(.ok, "kernel.yama.ptrace_scope is \(exposure.ptraceScope ?? 0): no process of \(user) can read nginx's memory")
        }
    }

    private func checkNginx(_ report: Report) {
        // A distinctive line of each shipped snippet: an old or edited copy lacks it.
        let snippets = [
            ("durin-server.conf", ["location = /_durin/verify", "proxy-key.conf;", "$durin_status = 400"]),
            ("durin-api.conf", ["fastcgi_param PATH_INFO", "proxy-key.conf;"]),
            ("durin-protect.conf", ["auth_request /_durin/verify;", "X-Durin-Expiry $durin_expiry;"]),
        ]
        for (file, markers) in snippets {
            let path = "\(nginxDir)/\(file)"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                report.say(.failure, "nginx snippet \(path) is missing: install it (make install, or the durin package)")
                continue
            }
            if let missing = markers.first(where: { !text.contains($0) }) {
                report.say(.failure, "nginx snippet \(path) lacks `\(missing)`: replace it with the shipped one")
            } else {
                report.say(.ok, "nginx snippet \(path)")
            }
        }
        // What nginx loads: its root's own files and the enabled sites, not sites-available.
        // (`upstreamBlock` finds the block in one of them.)
        let enabled = [nginxRoot, "\(nginxRoot)/sites-enabled", "\(nginxRoot)/conf.d"].flatMap { base -> [String] in
            ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).map { "\(base)/\($0)" }
        }
        let upstream = enabled.lazy.compactMap { path in
            Self.upstreamBlock(in: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
        }.first
        if let upstream {
            report.say(.ok, "nginx: an enabled configuration defines `upstream durin`")
            let directives = upstream.split(separator: "\n").compactMap { line in
                line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?
                    .trimmingCharacters(in: .whitespaces)
            }
            if !directives.contains(where: { $0.hasPrefix("keepalive ") }) {
                report.say(
                    .warning,
                    "nginx: `upstream durin` keeps no connections: add `keepalive 32;` to it, or every API call "
                        + "pays a connect, an accept and a close (docs/nginx.md)")
            }
            // durin closes a connection idle for 5 minutes; nginx must let go first, or
            // a POST it sends on one durin is closing is answered 502 (never retried).
            if let line = directives.first(where: { $0.hasPrefix("keepalive_timeout ") }),
                let seconds = Self.nginxSeconds(line.dropFirst("keepalive_timeout ".count).trimmingCharacters(in: [" ", ";"])),
                seconds >= 300
            {
                report.say(
                    .warning,
                    "nginx: `upstream durin` keeps idle connections \(seconds) s, and durin closes them after 300 s: "
                        + "set `keepalive_timeout` below that (the default, 60s, is), or a POST nginx sends on a "
                        + "connection durin is closing is answered 502 (docs/nginx.md)")
            }
        } else {
            report.say(
                .failure,
                "nginx: no enabled configuration defines `upstream durin` (the snippets pass requests to it); "
                    + "enable the example site: ln -s ../sites-available/durin \(nginxRoot)/sites-enabled/durin")
        }
    }

    /// An nginx time (`90`, `75s`, `10m`, `1h`, `500ms`) in whole seconds; nil for
    /// anything else, compound times (`1m30s`) included, which are then not judged.
    static func nginxSeconds(_ value: String) -> Int? {
        let units: [(String, Int)] = [("ms", 0), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        guard let (unit, scale) = units.first(where: { value.hasSuffix($0.0) }) ?? (value.isEmpty ? nil : ("", 1)),
            let number = Int(value.dropLast(unit.count))
        else { return nil }
        return unit == "ms" ? number / 1000 : number * scale
    }

    /// The text of an `upstream durin { ... }` block, up to its closing brace; nil
    /// when `config` defines none.
    static func upstreamBlock(in config: String) -> Substring? {
        guard let start = config.range(of: "upstream durin") else { return nil }
        let rest = config[start.upperBound...]
        guard let open = rest.firstIndex(of: "{"), rest[..<open].allSatisfy(\.isWhitespace),
            let close = rest[open...].firstIndex(of: "}")
        else { return nil }
        return rest[open...close]
    }
}
