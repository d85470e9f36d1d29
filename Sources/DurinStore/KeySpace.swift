import Codecs
import Crypto
package import DurinCore
import RedisClient

/// The Redis key names (docs/redis-layout.md lists each with its fields, expiry and
/// the scripts that touch it), under one prefix (`DURIN_KEY_PREFIX`).
///
/// On a Redis Cluster every key a script touches must hash to one slot, so keys
/// carry a hash tag after the prefix that names their `KeyGroup`: a user's keys and
/// their tokens share the user's tag, which a token's own digest begins with (login
/// draws tokens until it does), so the token alone names its slot. On one server
/// there are no tags, and the names are those of layout 2.
package struct KeySpace: Sendable {
    package let prefix: String
    /// Keys carry hash tags (`redis-cluster://`).
    package let cluster: Bool

    package init(prefix: String, cluster: Bool = false) {
        self.prefix = prefix
        self.cluster = cluster
    }

    /// The key space of the configured store: tagged when DURIN_REDIS_URL names a
    /// cluster, as the one parse of the URL (`RedisEndpoint`) says.
    package init(configuration: Configuration) {
        self.init(prefix: configuration.keyPrefix, cluster: (try? RedisEndpoint.parse(configuration.redisURL))?.isCluster ?? false)
    }

    /// The prefix of a group's keys: `P` on one server, `P{tag}` on a cluster.
    package func prefix(of group: KeyGroup) -> String {
        guard cluster else { return prefix }
        switch group {
        case .user(let name): return prefix + "{" + Self.userTag(name) + "}"
        case .token(let digest): return prefix + "{" + String(digest.prefix(Self.tagLength)) + "}"
        case .clients: return prefix + "{clients}"
        case .issuers: return prefix + "{issuers}"
        case .users: return prefix + "{users}"
        case .tag(let tag), .home(let tag, _): return prefix + "{" + tag + "}"
        case .key, .global: return prefix
        }
    }

    /// The key a script on `group` is routed by (its KEYS[1]); nil: no key.
    func routingKey(of group: KeyGroup) -> String? {
        switch group {
        case .user(let name): return user(name)
        case .token(let digest): return token(digest)
        case .clients: return clients
        case .issuers: return issuers
        case .users: return users
        case .tag: return prefix(of: group)
        case .home(let tag, let digest): return token(digest, home: tag)
        case .key(let key): return key
        case .global: return nil
        }
    }

    package func client(_ name: String) -> String { prefix(of: .clients) + Name.client + name }
    package var clients: String { prefix(of: .clients) + Name.clients }
    /// A user's record, and the index of their tokens (`tokenIndexField`).
    package func user(_ name: String) -> String { prefix(of: .user(name)) + Name.user + name }
    /// A user's password hash (Django's format), a string apart from the user's
    /// record: under `P secret:`, which the read-only inspection user's key patterns
    /// exclude (durin.acl), and on a cluster under the user's tag after that, so in
    /// the user's slot (a key's hash tag is its first `{...}`).
    package func password(_ name: String) -> String {
        prefix + Name.secret + ":" + prefix(of: .user(name)).dropFirst(prefix.count) + Name.password + name
    }
    /// A user's second factor (`s` the sealed TOTP secret, `p` one being enrolled,
    /// `n` the last step used), beside the password hash, under `P secret:`.
    package func totp(_ name: String) -> String {
        prefix + Name.secret + ":" + prefix(of: .user(name)).dropFirst(prefix.count) + Name.totp + name
    }
    /// The set of usernames. On a cluster it is kept beside the user scripts, not in
    /// them (it has a slot of its own).
    package var users: String { prefix(of: .users) + Name.users }
    /// The usernames again, as a sorted set whose members all score 0, so that
    /// ZRANGE BYLEX finds those with a prefix in O(log n): the console's user search.
    /// Kept beside `users` (same slot on a cluster).
    package var userIndex: String { prefix(of: .users) + Name.userIndex }
    /// A token's hash, by `Token.digest`. It lives until its expiry plus the grace
    /// period, so that an expired token can answer "The given token has expired." once.
    package func token(_ digest: String) -> String { prefix(of: .token(digest)) + Name.token + digest }
    /// A token's hash in its user's group: the same key as `token(_:)`, except for a
    /// token moved into a cluster from one server, whose digest does not start with
    /// its user's tag (`tokenHome`).
    package func token(_ digest: String, of user: String) -> String { prefix(of: .user(user)) + Name.token + digest }
    /// On a cluster, where the digest's own slot says a moved-in token lives: the
    /// user's tag, so that a check that has only the token finds its hash
    /// (`ClusterMove`). Absent for every token issued on the cluster.
    package func tokenHome(_ digest: String) -> String { prefix(of: .token(digest)) + Name.tokenHome + digest }
    /// The hash of a moved-in token, under the tag its home pointer names.
    package func token(_ digest: String, home tag: String) -> String { prefix(of: .tag(tag)) + Name.token + digest }
    /// The pattern of every token hash (on a cluster, under any tag).
    package var tokenPattern: String { prefix + (cluster ? "{*}" : "") + Name.token + "*" }
    /// The digest named by a token key; nil for any other key.
    package func digest(ofTokenKey key: String) -> String? {
        guard key.hasPrefix(prefix) else { return nil }
        var rest = key.dropFirst(prefix.count)
        if cluster {
            guard rest.first == "{", let close = rest.firstIndex(of: "}") else { return nil }
            rest = rest[rest.index(after: close)...]
        }
        guard rest.hasPrefix(Name.token) else { return nil }
        return String(rest.dropFirst(Name.token.count))
    }
    /// The field of the user hash that holds the digest of the user's token for
    /// `client` (one token per user and client).
    package static func tokenIndexField(_ client: String) -> String { tokenIndexPrefix + client }
    package static let tokenIndexPrefix = "t:"
    /// The session-id counter: one key on one server. A cluster keeps one per tag
    /// (`P{tag}seq:token`, in its users' slot), and a session id is that counter
    /// times 4,096 plus the tag's number: integers, unique across users as durin's
    /// are, and increasing for each user, without a key every login writes.
    package var tokenSequence: String { prefix + Name.tokenSequence }
    /// A cluster tag's session-id counter.
    package func tokenSequence(tag: String) -> String { prefix(of: .tag(tag)) + Name.tokenSequence }
    /// A fixed-size stand-in for values a client chooses (a name it tries, its
    /// address): 120 bits of the SHA-256 of the parts, in base64url (20 characters,
    /// like a token's digest). Such a value becomes part of a key name only this
    /// way, so no request can make a key name longer than this.
    package static func fingerprint(_ parts: String...) -> String {
        Token.digest(sha256: Array(SHA256.hash(data: Array(parts.joined(separator: "\u{0}").utf8))))
    }

    /// Login attempts from one address group (`ClientAddress.group`): the
    /// per-address limit. Its own slot on a cluster.
    package func loginAddress(_ group: String) -> String { prefix + Name.loginAddress + Self.fingerprint(group) }
    /// An issuer's calls to introspect/ and revoke/: its per-issuer limit
    /// (DURIN_INTROSPECTION_RATE). Its own slot on a cluster.
    package func issuerCalls(_ name: String) -> String { prefix + Name.issuerCalls + Self.fingerprint(name) }
    /// Failed logins of one username from one address group: a guesser locks the
    /// name only for where they guess from, never for its owner elsewhere.
    package func loginFailures(user: String, addressGroup: String) -> String {
        prefix(of: .user(user)) + Name.loginFailures + Self.fingerprint(user, addressGroup)
    }
    /// Failed logins of one username from anywhere: the looser backstop that still
    /// slows guesses spread over many addresses.
    package func loginFailures(user: String) -> String { prefix(of: .user(user)) + Name.loginUser + Self.fingerprint(user) }
    /// A (user, client) pair's throttle window (DRF's UserClientRateThrottle history).
    package func throttle(user: String, client: String) -> String { prefix(of: .user(user)) + Name.throttle + user + ":" + client }
    /// An imported token's mark: a token revoked here is never imported again.
    package func importedMark(_ digest: String) -> String { prefix(of: .token(digest)) + Name.importedMark + digest }
    /// A token moved into a cluster by `migrate --from`: never created again by a later run.
    package func movedMark(_ digest: String, of user: String) -> String { prefix(of: .user(user)) + Name.movedMark + digest }
    /// The event stream on one server. A cluster has one per key group, in its slot
    /// (`P{tag}events`: the scripts write to their group's).
    package var events: String { prefix + Name.events }
    /// The pattern of a cluster's event streams.
    package var eventStreamPattern: String { prefix + "{*}" + Name.events }
    /// A trusted-issuance key's record, by the key's SHA-256 digest.
    package func issuer(_ digest: String) -> String { prefix(of: .issuers) + Name.issuer + digest }
    /// Issuer name -> key digest.
    package var issuers: String { prefix(of: .issuers) + Name.issuers }
    /// The token-sealing secret, kept here only when DURIN_SECRET_KEY is not set.
    package var secret: String { prefix + Name.secret }
    /// The assertion-signing keys (kid -> created, retired, sealed private key):
    /// under `P secret:`, outside the inspection user's patterns.
    package var assertionKeys: String { prefix + Name.secret + ":assertion-keys" }
    /// The fingerprint of the sealing secret durin-fcgi uses (`TokenSeal.fingerprint`):
    /// durinctl refuses to seal under another.
    package var sealingFingerprint: String { prefix + Name.sealingFingerprint }
    /// The layout the data is in (`3`, or `2` before password hashes had keys of
    /// their own); absent in layout 1 (see LayoutMigration).
    package var layout: String { prefix + Name.layout }

    /// How many characters of a digest make its tag: 2 base64url characters, 4,096
    /// groups, so that drawing a token for a user's tag takes 4,096 tries on average.
    package static let tagLength = 2

    /// A user's tag: the first characters of the base64url SHA-256 of the name, the
    /// alphabet and length of a token digest's tag.
    package static func userTag(_ name: String) -> String {
        String(Base64.encodeURLSafe(Array(SHA256.hash(data: Array(name.utf8)))).prefix(tagLength))
    }

    /// A tag's number, 0..<4096: a cluster's session ids end in it (`sessionIDs`).
    package static func tagNumber(_ tag: String) -> Int {
        tag.utf8.reduce(0) { number, c in
            let digit: Int
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): digit = Int(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): digit = Int(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"): digit = 62
            default: digit = 63
            }
            return number * 64 + digit
        }
    }

    /// The tag with a number (`tagNumber`'s inverse).
    package static func tag(number: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        return String([alphabet[(number / 64) % 64], alphabet[number % 64]])
    }

    /// How many session-id series a cluster has: one per tag.
    package static let tagCount = 4096

    /// Layout 1's token keys (whole SHA-256 hex, long field names), its per-user
    /// index and its expiry tombstones: read only to migrate them.
    package struct Layout1: Sendable {
        let prefix: String
        package var tokenPattern: String { prefix + Name.layout1Token + "*" }
        package func token(_ sha256Hex: String) -> String { prefix + Name.layout1Token + sha256Hex }
        package func expired(_ sha256Hex: String) -> String { prefix + Name.layout1Expired + sha256Hex }
        package func userTokens(_ user: String) -> String { prefix + Name.user + user + Name.layout1UserTokens }
    }

    package var layout1: Layout1 { Layout1(prefix: prefix) }
}

extension KeySpace {
    /// What follows a group's prefix in each key name. The Swift builders above and
    /// the scripts' Lua builders (`luaBuilders`) are both made from these, so a key's
    /// name is written in this one place.
    enum Name {
        static let user = "user:"
        static let token = "t:"
        static let tokenHome = "h:"
        static let client = "client:"
        static let clients = "clients"
        static let users = "users"
        static let userIndex = "userindex"
        static let events = "events"
        static let tokenSequence = "seq:token"
        static let issuer = "issuer:"
        static let issuers = "issuers"
        static let throttle = "throttle:"
        static let importedMark = "imported:"
        static let movedMark = "m:"
        static let loginAddress = "loginaddr:"
        static let issuerCalls = "issuercalls:"
        static let loginFailures = "loginfail:"
        static let loginUser = "loginuser:"
        static let secret = "secret"
        static let password = "pw:"
        static let totp = "otp:"
        static let sealingFingerprint = "sealing"
        static let layout = "layout"
        static let layout1Token = "token:"
        static let layout1Expired = "expired:"
        static let layout1UserTokens = ":tokens"
    }

    /// The scripts' key builders, generated from `Name`: a script builds every key
    /// through these (on its group's prefix, `P`), never by joining strings itself.
    /// A test renders every script and checks both.
    static let luaBuilders = """
        local function userKey(name) return P .. '\(Name.user)' .. name end
        local function tokenKey(digest) return P .. '\(Name.token)' .. digest end
        local function homeKey(digest) return P .. '\(Name.tokenHome)' .. digest end
        local function clientKey(name) return P .. '\(Name.client)' .. name end
        local function issuerKey(digest) return P .. '\(Name.issuer)' .. digest end
        local function throttleKey(user, client) return P .. '\(Name.throttle)' .. user .. ':' .. client end
        local function importedKey(digest) return P .. '\(Name.importedMark)' .. digest end
        local function movedKey(digest) return P .. '\(Name.movedMark)' .. digest end
        local function layout1TokenKey(sha) return P .. '\(Name.layout1Token)' .. sha end
        local function layout1ExpiredKey(sha) return P .. '\(Name.layout1Expired)' .. sha end
        local function layout1IndexKey(user) return P .. '\(Name.user)' .. user .. '\(Name.layout1UserTokens)' end
        local CLIENTS, USERS, ISSUERS = P .. '\(Name.clients)', P .. '\(Name.users)', P .. '\(Name.issuers)'
        local USER_INDEX = P .. '\(Name.userIndex)'
        local EVENTS, TOKEN_SEQUENCE = P .. '\(Name.events)', P .. '\(Name.tokenSequence)'
        local INDEX_PREFIX = '\(tokenIndexPrefix)'
        local function indexField(client) return INDEX_PREFIX .. client end

        """
}

/// The keys one script may touch together: on a cluster, one hash slot.
package enum KeyGroup: Sendable, Equatable {
    /// A user's record, tokens, throttle counts, failed logins and events.
    case user(String)
    /// The group of the token with this digest: its user's.
    case token(String)
    /// Client records and the set of client names.
    case clients
    /// Issuer records and their index.
    case issuers
    /// The set of usernames.
    case users
    /// A script that touches this one key only.
    case key(String)
    /// The keys under one cluster tag.
    case tag(String)
    /// A token moved into a cluster from one server, under its user's tag
    /// (`KeySpace.tokenHome`); its hash is the routing key.
    case home(tag: String, digest: String)
    /// Scripts that run on one server only (the layout-1 migration).
    case global
}
