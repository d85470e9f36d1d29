import Codecs
import Foundation

/// Every `DURIN_*` variable durin-fcgi and durinctl read, declared once: its name, its
/// section and default as docs/configuration.md shows them, one line of
/// documentation, and how its value is read. `Configuration.fromEnvironment` is
/// nothing but these declarations applied in order, and a test holds the manual to
/// them (every variable documented, with this default; none documented that is
/// not declared).
extension Configuration {
    package struct Setting: Sendable {
        package let name: String
        /// The manual's section (`## Redis`, ...).
        package let section: Section
        /// The default, as the manual's table writes it.
        package let defaultText: String
        /// What it is, in one line.
        package let summary: String
        /// What a valid value looks like, for the error that names the variable.
        let expected: String
        /// The value may hold a password: an error never repeats it.
        let secret: Bool
        /// Applies a set, non-blank value; false when it is not valid.
        let apply: @Sendable (inout Configuration, String) -> Bool

        package enum Section: String, CaseIterable, Sendable {
            case redis = "Redis"
            case secrets = "Secrets"
            case responder = "The responder"
            case tokens = "Tokens and clients"
            case logins = "Passwords and logins"
        }
    }

    /// Reads the `DURIN_*` variables; unset or blank variables keep their defaults.
    package static func fromEnvironment(_ env: [String: String]) throws(Invalid) -> Configuration {
        var c = Configuration()
        for setting in settings {
            guard let raw = env[setting.name] else { continue }
            let value = raw.trimmingASCIIWhitespace()
            guard !value.isEmpty else { continue }
            guard setting.apply(&c, value) else {
                throw Invalid(
                    variable: setting.name,
                    problem: setting.secret ? "expected \(setting.expected)" : "expected \(setting.expected), got \"\(raw)\"")
            }
        }
        return try c.checked(passwordCapSet: env["DURIN_PASSWORD_ITERATIONS_MAX"].map { !$0.trimmingASCIIWhitespace().isEmpty } ?? false)
    }

    /// What no one setting can check alone.
    private func checked(passwordCapSet: Bool) throws(Invalid) -> Configuration {
        var c = self
        if let secret = c.secretKey, let weakness = SecretStrength.weakness(of: String(decoding: secret, as: UTF8.self)) {
            throw Invalid(variable: "DURIN_SECRET_KEY", problem: "the secret \(weakness)")
        }
        if c.userFields.contains("password") {
            throw Invalid(variable: "DURIN_USER_FIELDS", problem: "the password hash is never shown")
        }
        if c.apiAccessClientName == c.consoleClientName {
            throw Invalid(
                variable: "DURIN_API_ACCESS_CLIENT_NAME",
                problem: "\(c.consoleClientName) is the console's client (DURIN_CONSOLE_CLIENT): its tokens are console sessions")
        }
        if c.passwordIterationsMax < c.passwordIterations {
            // Only the count was raised: the cap follows it.
            guard passwordCapSet else {
                c.passwordIterationsMax = 2 * c.passwordIterations
                return c
            }
            throw Invalid(
                variable: "DURIN_PASSWORD_ITERATIONS_MAX",
                problem: "below DURIN_PASSWORD_ITERATIONS (\(c.passwordIterations)): the service's own hashes would be refused")
        }
        return c
    }

    /// In the manual's order.
    package static let settings: [Setting] = [
        // Redis
        .custom(
            "DURIN_REDIS_URL", .redis, "`redis://127.0.0.1:6379/0`", "where Redis is: one server, Sentinel or a cluster",
            expected:
                "redis://[user:password@]host:port/db, unix:///path/to/redis.sock, redis-sentinel://host:port[,host:port...]/service or redis-cluster://host:port[,host:port...]",
            secret: true
        ) { c, s in
            guard
                s.hasPrefix("redis://") || s.hasPrefix("unix://") || s.hasPrefix("redis-sentinel://")
                    || s.hasPrefix("redis-cluster://")
            else { return false }
            c.redisURL = s
            return true
        },
        // Braces are refused too: a hash tag in the prefix would put every key of a
        // Redis Cluster in one slot.
        .custom(
            "DURIN_KEY_PREFIX", .redis, "`durin:`", "the prefix of every Redis key",
            expected: "a non-empty prefix without spaces, braces or glob characters, such as durin:"
        ) { c, s in
            guard !s.isEmpty, !s.contains(where: { " *?[{}".contains($0) }) else { return false }
            c.keyPrefix = s
            return true
        },
        .int("DURIN_REDIS_TIMEOUT_MS", .redis, 10...60_000, "`2000`", "connect and command timeout towards Redis") {
            $0.redisTimeoutMillis = $1
        },
        .int("DURIN_REDIS_MIN_REPLICAS", .redis, 0...16, "`0`", "replicas that must acknowledge a write that has to survive a failover") {
            $0.redisMinReplicas = $1
        },
        // Secrets
        // Its strength is checked with the rest (`checked`): blank is unset, as for every setting.
        .custom(
            "DURIN_SECRET_KEY", .secrets, "unset", "seals stored tokens (unset: a secret kept in Redis)",
            expected: "a secret", secret: true
        ) { c, s in
            c.secretKey = Array(s.utf8)
            return true
        },
        .custom(
            "DURIN_PROXY_KEY", .secrets, "none: **required**", "the key nginx proves every request with",
            expected: ProxyKey.expected, secret: true
        ) { c, s in
            guard ProxyKey.isWellFormed(s) else { return false }
            c.proxyKey = Array(s.utf8)
            return true
        },
        // The responder
        .custom(
            "DURIN_LISTEN", .responder, "unset", "the FastCGI socket (unset: systemd's, else standard input)",
            expected: "a socket address"
        ) { c, s in
            c.listen = s
            return true
        },
        .custom(
            "DURIN_SOCKET_MODE", .responder, "`0660`", "the mode of a unix socket durin-fcgi makes",
            expected: "an octal mode such as 0660"
        ) { c, s in
            guard let m = UInt32(s, radix: 8), m <= 0o777 else { return false }
            c.socketMode = m
            return true
        },
        .int(
            "DURIN_THREADS", .responder, 1...256, "`8`",
            "worker threads that accept connections, each with its own Redis connection; as many again serve kept ones"
        ) { $0.threads = $1 },
        .custom(
            "DURIN_FASTCGI_TIMEOUT", .responder, "`5`", "how long a FastCGI peer has to send its whole request",
            expected: "a duration such as 5, 5s or 1m"
        ) { c, s in
            guard let d = DurationSpec.parse(s), d.seconds <= 3600 else { return false }
            c.fastcgiTimeoutMillis = Int(d.seconds) * 1000
            return true
        },
        .int("DURIN_MAX_BODY_BYTES", .responder, 1024...(64 << 20), "`1048576`", "the largest request body read") { $0.maxBodyBytes = $1 },
        .custom(
            "DURIN_LOG_LEVEL", .responder, "`info`", "the least severe level logged",
            expected: "trace, debug, info, notice, warning, error or critical"
        ) { c, s in
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(s.lowercased()) else { return false }
            c.logLevel = s.lowercased()
            return true
        },
        .bool("DURIN_SESSION_DETAILS", .responder, "`false`", "sessions/ adds each session's address, user agent, label and last use") {
            $0.sessionDetails = $1
        },
        .custom(
            "DURIN_CONSOLE_CLIENT", .responder, "`console`", "the API client of the console's sessions",
            expected: "a client name (letters, digits, . _ - @ +)"
        ) { c, s in
            guard Names.isValidClientName(s) else { return false }
            c.consoleClientName = s
            return true
        },
        .custom(
            "DURIN_CONSOLE_ORIGIN", .responder, "unset", "the one origin the console answers under (unset: loopback names)",
            expected: "an origin such as https://admin.example.com (scheme, host, optional port)"
        ) { c, s in
            guard let origin = WebOrigin(s) else { return false }
            c.consoleOrigin = origin
            return true
        },
        .custom(
            "DURIN_SIGNIN_CLIENT", .responder, "`web`", "the client the sign-in page (signin/) logs in to (mark it `--cookie`)",
            expected: "a client name (letters, digits, . _ - @ +)"
        ) { c, s in
            guard Names.isValidClientName(s) else { return false }
            c.signInClient = s
            return true
        },
        .custom(
            "DURIN_SIGNIN_URL", .responder, "`/api/auth/signin/`",
            "where a browser without a session is sent from a location that includes durin-signin.conf",
            expected: "a local path such as /api/auth/signin/"
        ) { c, s in
            guard SignInReturn.localPath(s) == s, !s.contains("?") else { return false }
            c.signInURL = s
            return true
        },
        .custom(
            "DURIN_SIGNIN_CSS", .responder, "unset", "a CSS file (at most 64 KiB) the sign-in page loads after its own, to theme it",
            expected: "the path of a readable CSS file of at most 64 KiB"
        ) { c, s in
            guard let bytes = FileManager.default.contents(atPath: s), bytes.count <= 65536,
                let text = String(data: bytes, encoding: .utf8)
            else { return false }
            c.signInCSS = text
            return true
        },
        .custom(
            "DURIN_COOKIE_ORIGINS", .responder, "unset",
            "other origins whose pages may send unsafe requests with the durin_session cookie (a request's own origin always may)",
            expected: "origins such as https://app.example.com, separated by spaces or commas"
        ) { c, s in
            let words = s.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" })
            let origins = words.compactMap { WebOrigin(String($0)) }
            guard origins.count == words.count else { return false }
            c.cookieOrigins = origins
            return true
        },
        .custom(
            "DURIN_LAST_USED_RESOLUTION", .responder, "`60s`", "how stale a token's recorded last use may get (off: never written)",
            expected: "a duration such as 60, 60s or 5m, or off"
        ) { c, s in
            if s.lowercased() == "off" {
                c.lastUsedResolutionMillis = nil
                return true
            }
            guard let d = DurationSpec.parse(s), d.seconds <= 86400 else { return false }
            c.lastUsedResolutionMillis = d.seconds * 1000
            return true
        },
        .bool("DURIN_METRICS", .responder, "`true`", "count requests, latencies and tokens for metrics/") { $0.metricsEnabled = $1 },
        // Tokens and clients
        .custom(
            "DURIN_DEFAULT_TOKEN_TTL", .tokens, "`1d`", "the token TTL of a client made without one",
            expected: "a duration such as 86400, 30m, 12h or 7d"
        ) { c, s in
            guard let ttl = DurationSpec.parse(s) else { return false }
            c.defaultTokenTTL = .seconds(ttl.seconds)
            return true
        },
        .int("DURIN_TOKEN_CHARACTER_LENGTH", .tokens, 32...256, "`64`", "the length of a new token") { $0.tokenCharacterLength = $1 },
        .custom(
            "DURIN_AUTH_HEADER_PREFIX", .tokens, "`Token`", "the Authorization schemes accepted",
            expected: "one or more words of letters, digits and - . _ ~ + /, such as Token, Bearer or \"Token Bearer\""
        ) { c, s in
            let words = s.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            // An auth-scheme is an RFC 9110 token; a challenge is built from it.
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/!#$%&'*^`|".utf8)
            guard !words.isEmpty, words.allSatisfy({ $0.utf8.allSatisfy(allowed.contains) }) else { return false }
            c.authSchemes = words
            return true
        },
        .rateOrOff("DURIN_INTROSPECTION_RATE", .tokens, "`1000/s`", "calls to introspect/ and revoke/ per issuer") {
            $0.introspectionRate = $1
        },
        .custom(
            "DURIN_EXPIRY_DATETIME_FORMAT", .tokens, "ISO 8601", "the strftime format of expiry in answers",
            expected: "a strftime format"
        ) { c, s in
            c.expiryFormat = ExpiryFormat(pattern: s)
            return true
        },
        .bool("DURIN_REFRESH_TOKEN_ON_LOGIN", .tokens, "`false`", "a login renews the expiry of the token it hands back") {
            $0.refreshTokenOnLogin = $1
        },
        .bool("DURIN_ROTATE_TOKEN_ON_LOGIN", .tokens, "`false`", "a login replaces the user's token for the client") {
            $0.rotateTokenOnLogin = $1
        },
        // Whether the password hash is named is checked with the rest (`checked`).
        .custom("DURIN_USER_FIELDS", .tokens, "empty", "the user fields a login's answer carries", expected: "field names") { c, s in
            c.userFields = s.split(separator: ",").map { $0.trimmingASCIIWhitespace() }.filter { !$0.isEmpty }
            return true
        },
        .custom(
            "DURIN_UPSTREAM_FIELDS", .tokens, "empty",
            "profile fields a protected location's upstream is told, each as a header (email: X-Durin-Email)",
            expected: "profile field names (letters, digits, _), separated by commas"
        ) { c, s in
            guard let fields = Configuration.profileFields(s) else { return false }
            c.upstreamFields = fields
            return true
        },
        .custom(
            "DURIN_ASSERTION_ISSUER", .tokens, "`durin`", "the `iss` of the identity assertions upstreams receive (X-Durin-Assertion)",
            expected: "a name or URL of printable ASCII, at most 256 characters"
        ) { c, s in
            guard s.utf8.count <= 256, s.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) else { return false }
            c.assertionIssuer = s
            return true
        },
        .custom(
            "DURIN_ASSERTION_TTL", .tokens, "`5m`", "the longest an identity assertion lives (its token's expiry may end it sooner)",
            expected: "a duration from 10s to 1h, such as 5m"
        ) { c, s in
            guard let d = DurationSpec.parse(s), (10...3600).contains(d.seconds) else { return false }
            c.assertionTTL = d.seconds
            return true
        },
        .custom(
            "DURIN_ASSERTION_FIELDS", .tokens, "empty", "profile fields an identity assertion carries as claims (email)",
            expected: "profile field names (letters, digits, _), none a registered claim (iss, sub, aud, exp, iat, nbf, jti, client, sid)"
        ) { c, s in
            guard let fields = Configuration.profileFields(s) else { return false }
            let claims: Set = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client", "sid"]
            guard fields.allSatisfy({ !claims.contains($0) }) else { return false }
            c.assertionFields = fields
            return true
        },
        .custom(
            "DURIN_EXPIRED_GRACE", .tokens, "`1d`", "how long an expired token is still reported as expired",
            expected: "a duration such as 1d (0: expired tokens are at once invalid)"
        ) { c, s in
            if s == "0" {
                c.expiredGraceSeconds = 0
                return true
            }
            guard let d = DurationSpec.parse(s) else { return false }
            c.expiredGraceSeconds = d.seconds
            return true
        },
        .custom(
            "DURIN_TOKEN_CACHE_TIMEOUT", .tokens, "`60`", "how long a verified token may be answered from memory (0: no cache)",
            expected: "a duration in seconds (0 disables the cache)"
        ) { c, s in
            guard let d = DurationSpec.parse(s) else {
                if s == "0" {
                    c.tokenCacheTimeout = 0
                    return true
                }
                return false
            }
            c.tokenCacheTimeout = d.seconds
            return true
        },
        .custom("DURIN_THROTTLE_RATE", .tokens, "unset", "the default rate of throttled locations", expected: "N/s, N/m, N/h or N/d") {
            c, s in
            guard let r = ThrottleRate.parse(s) else { return false }
            c.throttleRate = r
            return true
        },
        .custom(
            "DURIN_API_ACCESS_CLIENT_NAME", .tokens, "unset", "the client of apiaccess/ (unset: no apiaccess/)",
            expected: "a client name"
        ) { c, s in
            c.apiAccessClientName = s
            return true
        },
        .bool("DURIN_API_ACCESS_EXCLUDE_FROM_SESSIONS", .tokens, "`false`", "sessions/ neither lists nor deletes the API-access token") {
            $0.apiAccessExcludeFromSessions = $1
        },
        .bool("DURIN_API_ACCESS_RESPONSE_INCLUDE_TOKEN", .tokens, "`false`", "GET apiaccess/ hands back the token itself") {
            $0.apiAccessResponseIncludeToken = $1
        },
        .int("DURIN_EVENTS_MAXLEN", .tokens, 0...100_000_000, "`100000`", "about how many events are kept (0: none)") {
            $0.eventsMaxLength = $1
        },
        // Passwords and logins
        .int("DURIN_PASSWORD_ITERATIONS", .logins, 1...100_000_000, "`1000000`", "PBKDF2 iterations of the hashes durin writes") {
            $0.passwordIterations = $1
        },
        .int("DURIN_PASSWORD_ITERATIONS_MAX", .logins, 1...100_000_000, "`2000000`", "the most iterations a stored hash may name") {
            $0.passwordIterationsMax = $1
        },
        .int("DURIN_PASSWORD_MIN_LENGTH", .logins, 1...1024, "`8`", "the fewest characters a new password may have") {
            $0.passwordPolicy.minimumLength = $1
        },
        .custom(
            "DURIN_PASSWORD_DENYLIST", .logins, "unset", "a file of passwords no one may choose, one a line (compared without case)",
            expected: "the path of a readable UTF-8 file of at most 64 MiB"
        ) { c, s in
            guard let bytes = FileManager.default.contents(atPath: s), bytes.count <= 64 << 20,
                let text = String(data: bytes, encoding: .utf8)
            else { return false }
            c.passwordPolicy.denied = Set(
                text.split(whereSeparator: \.isNewline).map { PasswordPolicy.normalized(String($0)) }.filter { !$0.isEmpty })
            return true
        },
        .custom(
            "DURIN_OTP_ISSUER", .logins, "`durin`", "the name authenticator apps show beside a user's second factor (TOTP)",
            expected: "a name of 1 to 64 printable characters without a colon"
        ) { c, s in
            guard s.utf8.count <= 64, !s.contains(":"), s.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                return false
            }
            c.otpIssuer = s
            return true
        },
        .int("DURIN_HASH_THREADS", .logins, 1...256, "half the cores (at least 1)", "password-hashing threads") { $0.hashThreads = $1 },
        .int("DURIN_LOGIN_QUEUE", .logins, 1...100_000, "`512`", "logins waiting for a hasher before more get 503") {
            $0.loginQueueLimit = $1
        },
        .custom(
            "DURIN_LOGIN_DEADLINE", .logins, "`20`", "a login waiting this long for a hasher is answered 503",
            expected: "a duration such as 20, 20s or 1m"
        ) { c, s in
            guard let d = DurationSpec.parse(s), d.seconds >= 1 else { return false }
            c.loginDeadlineSeconds = d.seconds
            return true
        },
        .rateOrOff("DURIN_LOGIN_FAILURE_RATE", .logins, "`10/m`", "attempts for one username from one address group") {
            $0.loginFailureRate = $1
        },
        .rateOrOff("DURIN_LOGIN_FAILURE_RATE_PER_USER", .logins, "`1000/h`", "attempts for one username from anywhere") {
            $0.loginFailureRatePerUser = $1
        },
        .rateOrOff("DURIN_LOGIN_RATE_PER_ADDRESS", .logins, "`30/m`", "login attempts per address group, hashed or not") {
            $0.loginRatePerAddress = $1
        },
    ]
}

extension Configuration.Setting {
    static func custom(
        _ name: String, _ section: Section, _ defaultText: String, _ summary: String, expected: String,
        secret: Bool = false, _ apply: @escaping @Sendable (inout Configuration, String) -> Bool
    ) -> Self {
        Self(name: name, section: section, defaultText: defaultText, summary: summary, expected: expected, secret: secret, apply: apply)
    }

    static func int(
        _ name: String, _ section: Section, _ range: ClosedRange<Int>, _ defaultText: String, _ summary: String,
        _ set: @escaping @Sendable (inout Configuration, Int) -> Void
    ) -> Self {
        .custom(name, section, defaultText, summary, expected: "an integer from \(range.lowerBound) to \(range.upperBound)") { c, s in
            guard let n = Int(s), range.contains(n) else { return false }
            set(&c, n)
            return true
        }
    }

    static func bool(
        _ name: String, _ section: Section, _ defaultText: String, _ summary: String,
        _ set: @escaping @Sendable (inout Configuration, Bool) -> Void
    ) -> Self {
        .custom(name, section, defaultText, summary, expected: "true or false") { c, s in
            switch s.lowercased() {
            case "1", "true", "yes", "on": set(&c, true)
            case "0", "false", "no", "off": set(&c, false)
            default: return false
            }
            return true
        }
    }

    /// A limit that may be switched off: `N/s`, `N/m`, `N/h` or `N/d`, or `off` (nil).
    static func rateOrOff(
        _ name: String, _ section: Section, _ defaultText: String, _ summary: String,
        _ set: @escaping @Sendable (inout Configuration, ThrottleRate?) -> Void
    ) -> Self {
        .custom(name, section, defaultText, summary, expected: "N/s, N/m, N/h or N/d, or off") { c, s in
            if s.lowercased() == "off" {
                set(&c, nil)
                return true
            }
            guard let r = ThrottleRate.parse(s) else { return false }
            set(&c, r)
            return true
        }
    }
}
