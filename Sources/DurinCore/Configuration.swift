import Codecs
/// Every setting, read once from the environment at start and validated there:
/// a bad value stops the process with a message naming the variable.
///
/// The `DURIN_*` names mirror django-rest-durin's `REST_DURIN` settings, plus the
/// settings a standalone service needs (Redis, listening socket, threads).
public struct Configuration: Sendable {
    // durin's settings
    public var defaultTokenTTL: TokenTTL = .seconds(86400)
    public var tokenCharacterLength = 64
    /// DURIN_AUTH_HEADER_PREFIX's words: the Authorization schemes accepted (durin's
    /// one keyword, `Token`, by default; `Token Bearer` for RFC 6750 clients too).
    public var authSchemes = ["Token"]
    public var expiryFormat = ExpiryFormat()
    public var tokenCacheTimeout: Int64 = 60
    public var refreshTokenOnLogin = false
    public var userFields: [String] = []
    public var apiAccessClientName: String?
    public var apiAccessExcludeFromSessions = false
    public var apiAccessResponseIncludeToken = false
    public var throttleRate: ThrottleRate?
    // the service's settings
    public var redisURL = "redis://127.0.0.1:6379/0"
    public var redisTimeoutMillis = 2000
    /// Replicas that must acknowledge each write that has to survive a failover
    /// (WAIT), else the request answers 503. 0: do not wait.
    public var redisMinReplicas = 0
    public var keyPrefix = "durin:"
    public var listen: String?
    public var socketMode: UInt32 = 0o660
    /// From the accept, how long a FastCGI peer has to send its whole request
    /// (params and body); past it the connection is closed unanswered.
    public var fastcgiTimeoutMillis = 5000
    /// The proxy key: the value nginx sends in the DURIN_PROXY_KEY param of every
    /// request, from a root-only include. durin-fcgi answers nothing else; durinctl
    /// check compares it with nginx's. Printable base64url or hex, never logged.
    public var proxyKey: [UInt8]?
    public var threads = 8
    public var passwordIterations = 1_000_000
    /// The most PBKDF2 iterations a stored hash may name. A hash above it (from an
    /// import, say: a check at 10^8 costs 100 normal ones) is never computed: its
    /// user cannot log in with a password, the login costs what the decoy costs, and
    /// durinctl refuses such hashes. Twice the default by default, above every
    /// Django release's own count (1,200,000 in Django 6.0).
    public var passwordIterationsMax = 2_000_000
    public var expiredGraceSeconds: Int64 = 86400
    /// Login attempts for one username from one address group (an IPv4 address, an
    /// IPv6 /64): what a guesser gets before their guesses wait, without locking the
    /// name's owner out elsewhere.
    public var loginFailureRate: ThrottleRate? = ThrottleRate(requests: 10, periodSeconds: 60)
    /// Login attempts for one username from anywhere: a looser backstop, so that
    /// guesses spread over many addresses are slowed too. Above what one address
    /// group can send at `loginFailureRate` (600 an hour at 10/m).
    public var loginFailureRatePerUser: ThrottleRate? = ThrottleRate(requests: 1000, periodSeconds: 3600)
    /// Calls to introspect/ and revoke/ per issuer: a leaked or runaway issuer key
    /// cannot scan tokens, nor load Redis, faster than this. A gateway that
    /// introspects each request (and caches the answer) stays well under it.
    public var introspectionRate: ThrottleRate? = ThrottleRate(requests: 1000, periodSeconds: 1)
    /// Login attempts per address group (REMOTE_ADDR: an IPv4 address, an IPv6 /64),
    /// hashed or not.
    public var loginRatePerAddress: ThrottleRate? = ThrottleRate(requests: 30, periodSeconds: 60)
    /// A login still waiting for a hasher this long after it arrived is answered 503
    /// unhashed: below nginx's fastcgi_read_timeout (60 s), so no hash is spent on a
    /// request nginx has given up on.
    public var loginDeadlineSeconds: Int64 = 20
    public var rotateTokenOnLogin = false
    public var eventsMaxLength = 100_000
    public var maxBodyBytes = 1 << 20
    /// Logins waiting for a hasher thread before further ones get 503.
    public var loginQueueLimit = 512
    /// Password-hashing threads; nil: half the cores, at least one.
    public var hashThreads: Int?
    public var logLevel = "info"
    /// Count requests, latencies and tokens for `metrics/` (off: the bench's baseline).
    public var metricsEnabled = true
    /// How stale a token's last use may get before a check writes it again (one
    /// write a token per this, at most); nil (`off`): checks never write it, and an
    /// idle timeout counts from the last login or refresh.
    public var lastUsedResolutionMillis: Int64? = 60_000
    /// `sessions/` adds each session's details (address, user agent, label, last
    /// use); off, its body stays durin's.
    public var sessionDetails = false
    /// The API client of the operator console's sign-ins (made at the first one, with
    /// a TTL of 1 h and an idle timeout of 15 min, unless it exists).
    public var consoleClientName = "console"
    /// DURIN_CONSOLE_ORIGIN: the one origin the console answers under, checked
    /// against both the Host a request reached nginx by and its Origin. Unset, the
    /// console answers only under a loopback name (127.0.0.1, localhost, [::1]).
    public var consoleOrigin: WebOrigin?
    /// Seals stored tokens so re-login can return the same token (see TokenSeal).
    /// Unset: a secret is generated once and kept in Redis (`<prefix>secret`).
    public var secretKey: [UInt8]?

    public init() {}

    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let variable: String
        public let problem: String
        public var description: String { "\(variable): \(problem)" }
    }

    /// Reads the `DURIN_*` variables; unset or empty variables keep their defaults.
    public static func fromEnvironment(_ env: [String: String]) throws(Invalid) -> Configuration {
        var c = Configuration()
        let reader = Reader(env: env)
        try reader.read("DURIN_DEFAULT_TOKEN_TTL", expected: "a duration such as 86400, 30m, 12h or 7d") { s in
            guard let ttl = DurationSpec.parse(s) else { return false }
            c.defaultTokenTTL = .seconds(ttl.seconds)
            return true
        }
        try reader.int("DURIN_TOKEN_CHARACTER_LENGTH", in: 32...256) { c.tokenCharacterLength = $0 }
        try reader.read("DURIN_AUTH_HEADER_PREFIX",
                        expected: "one or more words of letters, digits and - . _ ~ + /, such as Token, Bearer or \"Token Bearer\"") { s in
            let words = s.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            // An auth-scheme is an RFC 9110 token; a challenge is built from it.
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/!#$%&'*^`|".utf8)
            guard !words.isEmpty, words.allSatisfy({ $0.utf8.allSatisfy(allowed.contains) }) else { return false }
            c.authSchemes = words
            return true
        }
        if let f = env["DURIN_EXPIRY_DATETIME_FORMAT"], !f.isEmpty { c.expiryFormat = ExpiryFormat(pattern: f) }
        try reader.read("DURIN_TOKEN_CACHE_TIMEOUT", expected: "a duration in seconds (0 disables the cache)") { s in
            guard let d = DurationSpec.parse(s) else {
                if s == "0" { c.tokenCacheTimeout = 0; return true }
                return false
            }
            c.tokenCacheTimeout = d.seconds
            return true
        }
        try reader.bool("DURIN_REFRESH_TOKEN_ON_LOGIN") { c.refreshTokenOnLogin = $0 }
        if let f = env["DURIN_USER_FIELDS"] {
            c.userFields = f.split(separator: ",").map { $0.trimmingASCIIWhitespace() }.filter { !$0.isEmpty }
            if c.userFields.contains("password") {
                throw Invalid(variable: "DURIN_USER_FIELDS", problem: "the password hash is never shown")
            }
        }
        if let n = env["DURIN_API_ACCESS_CLIENT_NAME"], !n.isEmpty { c.apiAccessClientName = n }
        try reader.bool("DURIN_API_ACCESS_EXCLUDE_FROM_SESSIONS") { c.apiAccessExcludeFromSessions = $0 }
        try reader.bool("DURIN_API_ACCESS_RESPONSE_INCLUDE_TOKEN") { c.apiAccessResponseIncludeToken = $0 }
        try reader.read("DURIN_THROTTLE_RATE", expected: "N/s, N/m, N/h or N/d") { s in
            guard let r = ThrottleRate.parse(s) else { return false }
            c.throttleRate = r
            return true
        }
        try reader.read("DURIN_REDIS_URL",
                        expected: "redis://[user:password@]host:port/db, unix:///path/to/redis.sock, redis-sentinel://host:port[,host:port...]/service or redis-cluster://host:port[,host:port...]",
                        secret: true) { s in
            guard s.hasPrefix("redis://") || s.hasPrefix("unix://") || s.hasPrefix("redis-sentinel://")
                    || s.hasPrefix("redis-cluster://") else { return false }
            c.redisURL = s
            return true
        }
        try reader.int("DURIN_REDIS_TIMEOUT_MS", in: 10...60_000) { c.redisTimeoutMillis = $0 }
        try reader.int("DURIN_REDIS_MIN_REPLICAS", in: 0...16) { c.redisMinReplicas = $0 }
        // Braces are refused too: a hash tag in the prefix would put every key of a
        // Redis Cluster in one slot.
        try reader.read("DURIN_KEY_PREFIX", expected: "a non-empty prefix without spaces, braces or glob characters, such as durin:") { s in
            guard !s.isEmpty, !s.contains(where: { " *?[{}".contains($0) }) else { return false }
            c.keyPrefix = s
            return true
        }
        if let l = env["DURIN_LISTEN"], !l.isEmpty { c.listen = l }
        try reader.read("DURIN_SOCKET_MODE", expected: "an octal mode such as 0660") { s in
            guard let m = UInt32(s, radix: 8), m <= 0o777 else { return false }
            c.socketMode = m
            return true
        }
        try reader.read("DURIN_FASTCGI_TIMEOUT", expected: "a duration such as 5, 5s or 1m") { s in
            guard let d = DurationSpec.parse(s), d.seconds <= 3600 else { return false }
            c.fastcgiTimeoutMillis = Int(d.seconds) * 1000
            return true
        }
        try reader.read("DURIN_PROXY_KEY", expected: ProxyKey.expected, secret: true) { s in
            guard ProxyKey.isWellFormed(s) else { return false }
            c.proxyKey = Array(s.utf8)
            return true
        }
        try reader.int("DURIN_THREADS", in: 1...256) { c.threads = $0 }
        try reader.int("DURIN_PASSWORD_ITERATIONS", in: 1...100_000_000) { c.passwordIterations = $0 }
        var capSet = false
        try reader.int("DURIN_PASSWORD_ITERATIONS_MAX", in: 1...100_000_000) { c.passwordIterationsMax = $0; capSet = true }

        try reader.read("DURIN_EXPIRED_GRACE", expected: "a duration such as 1d (0: expired tokens are at once invalid)") { s in
            if s == "0" { c.expiredGraceSeconds = 0; return true }
            guard let d = DurationSpec.parse(s) else { return false }
            c.expiredGraceSeconds = d.seconds
            return true
        }
        try reader.rateOrOff("DURIN_LOGIN_FAILURE_RATE") { c.loginFailureRate = $0 }
        try reader.rateOrOff("DURIN_LOGIN_FAILURE_RATE_PER_USER") { c.loginFailureRatePerUser = $0 }
        try reader.rateOrOff("DURIN_INTROSPECTION_RATE") { c.introspectionRate = $0 }
        try reader.rateOrOff("DURIN_LOGIN_RATE_PER_ADDRESS") { c.loginRatePerAddress = $0 }
        try reader.read("DURIN_LOGIN_DEADLINE", expected: "a duration such as 20, 20s or 1m") { s in
            guard let d = DurationSpec.parse(s), d.seconds >= 1 else { return false }
            c.loginDeadlineSeconds = d.seconds
            return true
        }
        try reader.bool("DURIN_ROTATE_TOKEN_ON_LOGIN") { c.rotateTokenOnLogin = $0 }
        try reader.int("DURIN_EVENTS_MAXLEN", in: 0...100_000_000) { c.eventsMaxLength = $0 }
        try reader.int("DURIN_MAX_BODY_BYTES", in: 1024...(64 << 20)) { c.maxBodyBytes = $0 }
        try reader.int("DURIN_LOGIN_QUEUE", in: 1...100_000) { c.loginQueueLimit = $0 }
        try reader.int("DURIN_HASH_THREADS", in: 1...256) { c.hashThreads = $0 }
        try reader.bool("DURIN_METRICS") { c.metricsEnabled = $0 }
        try reader.read("DURIN_LAST_USED_RESOLUTION", expected: "a duration such as 60, 60s or 5m, or off") { s in
            if s.lowercased() == "off" { c.lastUsedResolutionMillis = nil; return true }
            guard let d = DurationSpec.parse(s), d.seconds <= 86400 else { return false }
            c.lastUsedResolutionMillis = d.seconds * 1000
            return true
        }
        try reader.bool("DURIN_SESSION_DETAILS") { c.sessionDetails = $0 }
        try reader.read("DURIN_CONSOLE_CLIENT", expected: "a client name (letters, digits, . _ - @ +)") { s in
            guard Names.isValidClientName(s) else { return false }
            c.consoleClientName = s
            return true
        }
        try reader.read("DURIN_CONSOLE_ORIGIN", expected: "an origin such as https://admin.example.com (scheme, host, optional port)") { s in
            guard let origin = WebOrigin(s) else { return false }
            c.consoleOrigin = origin
            return true
        }
        try reader.read("DURIN_LOG_LEVEL", expected: "trace, debug, info, notice, warning, error or critical") { s in
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(s.lowercased()) else { return false }
            c.logLevel = s.lowercased()
            return true
        }
        // Blank is unset, as for every setting: the secret is then kept in Redis.
        if let secret = env["DURIN_SECRET_KEY"]?.trimmingASCIIWhitespace(), !secret.isEmpty {
            if let weakness = SecretStrength.weakness(of: secret) {
                throw Invalid(variable: "DURIN_SECRET_KEY", problem: "the secret \(weakness)")
            }
            c.secretKey = Array(secret.utf8)
        }
        if c.apiAccessClientName == c.consoleClientName {
            throw Invalid(variable: "DURIN_API_ACCESS_CLIENT_NAME",
                          problem: "\(c.consoleClientName) is the console's client (DURIN_CONSOLE_CLIENT): its tokens are console sessions")
        }
        if c.passwordIterationsMax < c.passwordIterations {
            guard capSet else {
                // Only the count was raised: the cap follows it.
                c.passwordIterationsMax = 2 * c.passwordIterations
                return c
            }
            throw Invalid(variable: "DURIN_PASSWORD_ITERATIONS_MAX",
                          problem: "below DURIN_PASSWORD_ITERATIONS (\(c.passwordIterations)): the service's own hashes would be refused")
        }
        return c
    }

    private struct Reader {
        let env: [String: String]

        /// Hands a set, non-blank variable to `apply`, which answers whether it is valid.
        /// - Parameter secret: the value may carry a password: the error never shows it.
        func read(_ name: String, expected: String, secret: Bool = false, _ apply: (String) -> Bool) throws(Invalid) {
            guard let raw = env[name] else { return }
            let value = raw.trimmingASCIIWhitespace()
            guard !value.isEmpty else { return }
            if !apply(value) {
                throw Invalid(variable: name, problem: secret ? "expected \(expected)" : "expected \(expected), got \"\(raw)\"")
            }
        }

        func int(_ name: String, in range: ClosedRange<Int>, _ apply: (Int) -> Void) throws(Invalid) {
            try read(name, expected: "an integer from \(range.lowerBound) to \(range.upperBound)") { s in
                guard let n = Int(s), range.contains(n) else { return false }
                apply(n)
                return true
            }
        }

        /// A limit that may be switched off: `N/s`, `N/m`, `N/h` or `N/d`, or `off` (nil).
        func rateOrOff(_ name: String, _ apply: (ThrottleRate?) -> Void) throws(Invalid) {
            try read(name, expected: "N/s, N/m, N/h or N/d, or off") { s in
                if s.lowercased() == "off" { apply(nil); return true }
                guard let r = ThrottleRate.parse(s) else { return false }
                apply(r)
                return true
            }
        }

        func bool(_ name: String, _ apply: (Bool) -> Void) throws(Invalid) {
            try read(name, expected: "true or false") { s in
                switch s.lowercased() {
                case "1", "true", "yes", "on": apply(true)
                case "0", "false", "no", "off": apply(false)
                default: return false
                }
                return true
            }
        }
    }
}
