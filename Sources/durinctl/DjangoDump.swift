import DurinCore
import DurinHTTP
import DurinMigration
import DurinStore

/// The JSON of `manage.py dumpdata auth.user durin` (Django's fixture format: a list of
/// `{"model": "app.model", "pk": ..., "fields": {...}}`), read into what this service
/// stores. Records that do not fit are refused one by one, with the reason; the
/// others are kept.
struct DjangoDump {
    /// A record left out, and why.
    struct Refusal {
        var model: String
        var pk: String
        /// What the record is, for people: `"eve smith"`, `alice/web`.
        var label: String
        var reason: String

        var line: String {
            "refused \(Terminal.escaped(model)) pk=\(Terminal.escaped(pk)) (\(Terminal.escaped(label))): \(Terminal.escaped(reason))"
        }
    }

    struct User {
        var pk: String?
        var record: UserRecord
        /// `date_joined`, else the time of the import.
        var created: EpochMillis
        /// Set when the hasher of the Django hash is one this service cannot check: the
        /// user is imported unable to log in (`!` and the hash, as Django marks one).
        var unsupportedHasher: String?
    }

    struct Client {
        var pk: String
        var record: ClientRecord
    }

    struct Token {
        var pk: String
        var token: ImportedToken
    }

    var clients: [Client] = []
    var users: [User] = []
    var tokens: [Token] = []
    var refusedClients: [Refusal] = []
    var refusedUsers: [Refusal] = []
    var refusedTokens: [Refusal] = []
    /// Every token string in the dump, refused ones included (for `--previous`).
    var tokenStrings: Set<String> = []
    /// The largest token pk in the dump, refused and expired ones included: tokens
    /// issued here get larger session ids.
    var largestTokenPK: Int64 = 0
    /// Records of other models, by model: left alone.
    var ignored: [String: Int] = [:]

    /// Session ids pass through Lua, whose numbers are doubles.
    static let largestID: Int64 = 1 << 53

    /// The fields of durin's user serializers that `DURIN_USER_FIELDS` can name.
    static let profileFields = ["email", "first_name", "last_name"]

    struct Unreadable: Error, CustomStringConvertible { let description: String }

    /// The shortest token taken: durin's are 64 characters; a short one (a test
    /// fixture's, a hand-made one) is guessable, and is refused unless allowed.
    var minimumTokenLength = 32
    /// Hashes naming more PBKDF2 iterations are imported unusable (`!`): checking
    /// them would cost that many normal logins (DURIN_PASSWORD_ITERATIONS_MAX).
    var passwordIterationsMax = 2_000_000

    init(bytes: [UInt8], now: EpochMillis, minimumTokenLength: Int = 32, passwordIterationsMax: Int = 2_000_000) throws(Unreadable) {
        self.minimumTokenLength = minimumTokenLength
        self.passwordIterationsMax = passwordIterationsMax
        let document: JSONValue
        do { document = try JSONParser.parse(bytes) } catch {
            throw Unreadable(description: "not JSON: \(error.message)")
        }
        guard case .array(let records) = document else {
            throw Unreadable(description: "not a Django fixture: expected a JSON list of records (manage.py dumpdata auth.user durin)")
        }
        var rawClients: [(pk: String, fields: JSONValue)] = []
        var rawUsers: [(pk: String?, fields: JSONValue)] = []
        var rawTokens: [(pk: String, fields: JSONValue)] = []
        for (position, record) in records.enumerated() {
            guard case .string(let model)? = record["model"], case .object? = record["fields"], let fields = record["fields"] else {
                throw Unreadable(description: "record \(position + 1) is not a Django fixture record ({\"model\", \"pk\", \"fields\"})")
            }
            let pk = record["pk"].flatMap(Self.scalar)
            switch model.lowercased() {
            case "auth.user":
                rawUsers.append((pk, fields))
                if let pk, let name = Self.text(fields["username"]) { names.users[pk] = name }
            case "durin.client":
                rawClients.append((pk ?? "?", fields))
                if let pk, let name = Self.text(fields["name"]) { names.clients[pk] = name }
            case "durin.authtoken": rawTokens.append((pk ?? "?", fields))
            default: ignored[model, default: 0] += 1
            }
        }
        readClients(rawClients, now: now)
        readUsers(rawUsers, now: now)
        readTokens(rawTokens, now: now)
    }

    // MARK: Records

    private mutating func readClients(_ raw: [(pk: String, fields: JSONValue)], now: EpochMillis) {
        var seen: Set<String> = []
        for (pk, f) in raw {
            let name = Self.text(f["name"]) ?? ""
            func refuse(_ why: String) { refusedClients.append(Refusal(model: "durin.client", pk: pk, label: "\"\(name)\"", reason: why)) }
            guard Names.isValidClientName(name) else {
                refuse("invalid client name: letters, digits and . _ - @ + only, at most 64 bytes")
                continue
            }
            guard seen.insert(name).inserted else {
                refuse("a second client named \(name)")
                continue
            }
            guard let ttlText = f["token_ttl"].flatMap(Self.scalar), let seconds = DjangoFormats.durationSeconds(ttlText) else {
                refuse(
                    "token_ttl \(f["token_ttl"].map(Self.shown) ?? "missing") is not a duration of at least one second "
                        + "(\"1 00:00:00\", \"2 days, 3:04:05\" or seconds)")
                continue
            }
            let rateText = Self.text(f["throttle_rate"]) ?? ""
            var rate: ThrottleRate?
            if !rateText.allSatisfy(\.isWhitespace) {
                guard let parsed = ThrottleRate.parse(rateText) else {
                    refuse("throttle_rate \"\(rateText)\" is not a DRF rate (N/s, N/m, N/h, N/d)")
                    continue
                }
                rate = parsed
            }
            clients.append(Client(pk: pk, record: ClientRecord(name: name, tokenTTL: .seconds(seconds), throttleRate: rate, created: now)))
        }
    }

    private mutating func readUsers(_ raw: [(pk: String?, fields: JSONValue)], now: EpochMillis) {
        var seen: Set<String> = []
        for (pk, f) in raw {
            let name = Self.text(f["username"]) ?? ""
            func refuse(_ why: String) {
                refusedUsers.append(Refusal(model: "auth.user", pk: pk ?? name, label: "\"\(name)\"", reason: why))
            }
            guard Names.isValidUsername(name) else {
                refuse("invalid username: letters, digits and @ . + - _ only (Django's default rule), at most 150")
                continue
            }
            guard seen.insert(name).inserted else {
                refuse("a second user named \(name)")
                continue
            }
            guard let password = Self.text(f["password"]) else {
                refuse("no password field")
                continue
            }
            var isActive = true
            if let value = f["is_active"] {
                guard case .bool(let b) = value else {
                    refuse("is_active is not true or false")
                    continue
                }
                isActive = b
            }
            var hash = password
            var unsupported: String?
            if password.isEmpty {
                hash = "!"  // Django cannot check an empty hash either
            } else if !password.hasPrefix("!") && !PasswordHasher.isSupported(password) {
                unsupported = password.contains("$") ? String(password.prefix { $0 != "$" }) : "unknown"
                hash = "!" + password  // unusable, like Django's `!` hashes; the original kept after the mark
            } else if let n = PasswordHasher.iterations(of: password), n > passwordIterationsMax {
                unsupported = "\(password.prefix { $0 != "$" }) at \(n) iterations, above DURIN_PASSWORD_ITERATIONS_MAX"
                hash = "!" + password
            }
            var profile: [String: String] = [:]
            for field in Self.profileFields { if let v = Self.text(f[field]) { profile[field] = v } }
            let joined = Self.text(f["date_joined"]).flatMap(DjangoFormats.dateTime) ?? now
            users.append(
                User(
                    pk: pk, record: UserRecord(username: name, passwordHash: hash, isActive: isActive, profile: profile),
                    created: joined, unsupportedHasher: unsupported))
        }
    }

    /// Every user's and client's name by pk, refused ones included: for messages.
    private var names: (users: [String: String], clients: [String: String]) = ([:], [:])

    private mutating func readTokens(_ raw: [(pk: String, fields: JSONValue)], now: EpochMillis) {
        let usersByPK = Dictionary(users.compactMap { u in u.pk.map { ($0, u.record.username) } }, uniquingKeysWith: { a, _ in a })
        let refusedUserPKs = Set(refusedUsers.map(\.pk))
        let clientsByPK = Dictionary(clients.map { ($0.pk, $0.record.name) }, uniquingKeysWith: { a, _ in a })
        let refusedClientPKs = Set(refusedClients.map(\.pk))
        var candidates: [Token] = []
        var labels: [String: String] = [:]
        for (pk, f) in raw {
            let userRef = f["user"]
            let clientRef = f["client"].flatMap(Self.scalar)
            var user: String?
            switch userRef {
            case .array(let natural)? where natural.count == 1: user = Self.text(natural[0])  // --natural-foreign
            case let ref?: user = Self.scalar(ref).flatMap { usersByPK[$0] }
            case nil: break
            }
            let client = clientRef.flatMap { clientsByPK[$0] }
            // Named for people even when the user or client was refused (or is unknown).
            let userName =
                user ?? userRef.flatMap(Self.scalar).flatMap { names.users[$0] }.map { "\"\($0)\"" }
                ?? "user " + (userRef.map(Self.shown) ?? "?")
            let clientName = client ?? clientRef.flatMap { names.clients[$0] }.map { "\"\($0)\"" } ?? "client " + (clientRef ?? "?")
            let label = "\(userName)/\(clientName)"
            labels[pk] = label
            func refuse(_ why: String) { refusedTokens.append(Refusal(model: "durin.authtoken", pk: pk, label: label, reason: why)) }
            let value = Self.text(f["token"]) ?? ""
            if !value.isEmpty { tokenStrings.insert(value) }
            if let n = Int64(pk), n < Self.largestID, n > largestTokenPK { largestTokenPK = n }
            guard let user else {
                if let ref = userRef.flatMap(Self.scalar), refusedUserPKs.contains(ref) {
                    refuse("its user (auth.user pk=\(ref)) was refused")
                } else {
                    refuse("unknown user \(userRef.map(Self.shown) ?? "(none)"): dump auth.user together with durin")
                }
                continue
            }
            guard let client else {
                if let ref = clientRef, refusedClientPKs.contains(ref) {
                    refuse("its client (durin.client pk=\(ref)) was refused")
                } else {
                    refuse("unknown client \(clientRef ?? "(none)"): dump durin.client together with the tokens")
                }
                continue
            }
            guard !value.isEmpty, value.utf8.count <= 256, value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                refuse("the token is not a durin token (1 to 256 visible ASCII characters)")
                continue
            }
            guard value.utf8.count >= minimumTokenLength else {
                refuse(
                    "the token has \(value.utf8.count) characters, fewer than \(minimumTokenLength): it could be guessed "
                        + "(durin's have 64); --allow-short-tokens imports it anyway")
                continue
            }
            guard let id = Int64(pk), id > 0, id < Self.largestID else {
                refuse("pk is not an integer from 1 to 2^53 - 1 (durin's session id)")
                continue
            }
            guard let created = Self.text(f["created"]).flatMap(DjangoFormats.dateTime),
                let expiry = Self.text(f["expiry"]).flatMap(DjangoFormats.dateTime)
            else {
                refuse("created or expiry is not an ISO 8601 time")
                continue
            }
            candidates.append(
                Token(
                    pk: pk,
                    token: ImportedToken(
                        token: DurinCore.Token(value: value), user: user, client: client,
                        created: created, expiry: expiry, id: id)))
        }
        // Django keeps one token per (user, client) and each token once: a dump with
        // two is not one database's state, and which one is right cannot be told.
        var byPair: [String: [String]] = [:]
        var byToken: [String: [String]] = [:]
        var byID: [Int64: [String]] = [:]
        for c in candidates {
            byPair["\(c.token.user)\t\(c.token.client)", default: []].append(c.pk)
            byToken[c.token.token.value, default: []].append(c.pk)
            byID[c.token.id, default: []].append(c.pk)
        }
        for c in candidates {
            let pair = byPair["\(c.token.user)\t\(c.token.client)"]!
            let same = byToken[c.token.token.value]!
            let ids = byID[c.token.id]!
            let reason: String?
            if ids.count > 1 {
                reason = "pk \(c.pk) appears \(ids.count) times in the dump"
            } else if pair.count > 1 {
                reason =
                    "\(c.token.user) has \(pair.count) tokens for client \(c.token.client) (pk \(pair.joined(separator: ", "))); "
                    + "durin allows one: none of them is imported"
            } else if same.count > 1 {
                reason = "the same token appears in pk \(same.joined(separator: ", ")): none of them is imported"
            } else {
                reason = nil
            }
            if let reason {
                refusedTokens.append(Refusal(model: "durin.authtoken", pk: c.pk, label: labels[c.pk] ?? "?", reason: reason))
            } else {
                tokens.append(c)
            }
        }
    }

    // MARK: JSON values

    /// A string value; nil for anything else.
    static func text(_ value: JSONValue?) -> String? {
        if case .string(let s)? = value { return s }
        return nil
    }

    /// A string or a number as written (primary keys, durations in seconds).
    static func scalar(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): return s
        case .number(let n): return n
        default: return nil
        }
    }

    static func shown(_ value: JSONValue) -> String { value.rendered }
}
