import Codecs

/// Every setting, read once from the environment at start and validated there:
/// a bad value stops the process with a message naming the variable.
///
/// The `DURIN_*` names mirror django-rest-durin's `REST_DURIN` settings, plus the
/// settings a standalone service needs (Redis, listening socket, threads).
package struct Configuration: Sendable {
    // durin's settings
    package var defaultTokenTTL: TokenTTL = .seconds(86400)
    package var tokenCharacterLength = 64
    /// DURIN_AUTH_HEADER_PREFIX's words: the Authorization schemes accepted (durin's
    /// one keyword, `Token`, by default; `Token Bearer` for RFC 6750 clients too).
    package var authSchemes = ["Token"]
    package var expiryFormat = ExpiryFormat()
    package var tokenCacheTimeout: Int64 = 60
    package var refreshTokenOnLogin = false
    package var userFields: [String] = []
    /// DURIN_UPSTREAM_FIELDS: profile fields passed to protected upstreams as
    /// `X-Durin-<Field>` headers (the check then reads the user's record).
    package var upstreamFields: [String] = []
    /// The identity assertion's `iss`, longest life (seconds) and profile claims.
    package var assertionIssuer = "durin"
    package var assertionTTL: Int64 = 300
    package var assertionFields: [String] = []

    /// A comma-separated list of profile field names: letters, digits and `_`, at
    /// most 64 each, never an account field (`password`, `username`, `is_active`,
    /// `is_staff`, whose answers durin gives its own way). nil when not one.
    package static func profileFields(_ text: String) -> [String]? {
        let names = text.split(separator: ",").map { $0.trimmingASCIIWhitespace() }.filter { !$0.isEmpty }
        let reserved: Set = ["password", "username", "is_active", "is_staff", "import_digest"]
        for name in names {
            guard name.utf8.count <= 64, !reserved.contains(name), !name.hasPrefix("t:"),
                name.utf8.allSatisfy({
                    ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F
                })
            else { return nil }
        }
        return names
    }
    package var apiAccessClientName: String?
    package var apiAccessExcludeFromSessions = false
    package var apiAccessResponseIncludeToken = false
    package var throttleRate: ThrottleRate?
    // the service's settings
    package var redisURL = "redis://127.0.0.1:6379/0"
    package var redisTimeoutMillis = 2000
    /// Replicas that must acknowledge each write that has to survive a failover
    /// (WAIT), else the request answers 503. 0: do not wait.
    package var redisMinReplicas = 0
    package var keyPrefix = "durin:"
    package var listen: String?
    package var socketMode: UInt32 = 0o660
    /// From the accept, how long a FastCGI peer has to send its whole request
    /// (params and body); past it the connection is closed unanswered.
    package var fastcgiTimeoutMillis = 5000
    /// The proxy key: the value nginx sends in the DURIN_PROXY_KEY param of every
    /// request, from a root-only include. durin-fcgi answers nothing else; durinctl
    /// check compares it with nginx's. Printable base64url or hex, never logged.
    package var proxyKey: [UInt8]?
    package var threads = 8
    package var passwordIterations = 1_000_000
    /// The most PBKDF2 iterations a stored hash may name. A hash above it (from an
    /// import, say: a check at 10^8 costs 100 normal ones) is never computed: its
    /// user cannot log in with a password, the login costs what the decoy costs, and
    /// durinctl refuses such hashes. Twice the default by default, above every
    /// Django release's own count (1,200,000 in Django 6.0).
    package var passwordIterationsMax = 2_000_000
    /// What a new password must pass (DURIN_PASSWORD_MIN_LENGTH, DURIN_PASSWORD_DENYLIST).
    package var passwordPolicy = PasswordPolicy()
    package var expiredGraceSeconds: Int64 = 86400
    /// Login attempts for one username from one address group (an IPv4 address, an
    /// IPv6 /64): what a guesser gets before their guesses wait, without locking the
    /// name's owner out elsewhere.
    package var loginFailureRate: ThrottleRate? = ThrottleRate(requests: 10, periodSeconds: 60)
    /// Login attempts for one username from anywhere: a looser backstop, so that
    /// guesses spread over many addresses are slowed too. Above what one address
    /// group can send at `loginFailureRate` (600 an hour at 10/m).
    package var loginFailureRatePerUser: ThrottleRate? = ThrottleRate(requests: 1000, periodSeconds: 3600)
    /// Calls to introspect/ and revoke/ per issuer: a leaked or runaway issuer key
    /// cannot scan tokens, nor load Redis, faster than this. A gateway that
    /// introspects each request (and caches the answer) stays well under it.
    package var introspectionRate: ThrottleRate? = ThrottleRate(requests: 1000, periodSeconds: 1)
    /// Login attempts per address group (REMOTE_ADDR: an IPv4 address, an IPv6 /64),
    /// hashed or not.
    package var loginRatePerAddress: ThrottleRate? = ThrottleRate(requests: 30, periodSeconds: 60)
    /// A login still waiting for a hasher this long after it arrived is answered 503
    /// unhashed: below nginx's fastcgi_read_timeout (60 s), so no hash is spent on a
    /// request nginx has given up on.
    package var loginDeadlineSeconds: Int64 = 20
    package var rotateTokenOnLogin = false
    package var eventsMaxLength = 100_000
    package var maxBodyBytes = 1 << 20
    /// Logins waiting for a hasher thread before further ones get 503.
    package var loginQueueLimit = 512
    /// Password-hashing threads; nil: half the cores, at least one.
    package var hashThreads: Int?
    package var logLevel = "info"
    /// Count requests, latencies and tokens for `metrics/` (off: the bench's baseline).
    package var metricsEnabled = true
    /// How stale a token's last use may get before a check writes it again (one
    /// write a token per this, at most); nil (`off`): checks never write it, and an
    /// idle timeout counts from the last login or refresh.
    package var lastUsedResolutionMillis: Int64? = 60_000
    /// `sessions/` adds each session's details (address, user agent, label, last
    /// use); off, its body stays durin's.
    package var sessionDetails = false
    /// The API client of the operator console's sign-ins (made at the first one, with
    /// a TTL of 1 h and an idle timeout of 15 min, unless it exists).
    package var consoleClientName = "console"
    /// DURIN_CONSOLE_ORIGIN: the one origin the console answers under, checked
    /// against both the Host a request reached nginx by and its Origin. Unset, the
    /// console answers only under a loopback name (127.0.0.1, localhost, [::1]).
    package var consoleOrigin: WebOrigin?
    /// DURIN_COOKIE_ORIGINS: pages of these origins may send unsafe requests that
    /// the durin_session cookie authenticates, besides the request's own origin.
    package var cookieOrigins: [WebOrigin] = []
    /// The issuer an authenticator app shows beside a user's second factor.
    package var otpIssuer = "durin"
    /// The client the sign-in page logs in to.
    package var signInClient = "web"
    /// Where durin-signin.conf sends a browser without a session (a local path).
    package var signInURL = "/api/auth/signin/"
    /// DURIN_SIGNIN_CSS's text, read once at start: the sign-in page's theme.
    package var signInCSS: String?
    /// Seals stored tokens so re-login can return the same token (see TokenSeal).
    /// Unset: a secret is generated once and kept in Redis (`<prefix>secret`).
    package var secretKey: [UInt8]?

    package init() {}

    package struct Invalid: Error, CustomStringConvertible, Equatable {
        package let variable: String
        package let problem: String
        package var description: String { "\(variable): \(problem)" }
    }
}
