package import DurinCore
import RedisClient

/// What an issuer key may do: each route an issuer calls needs one of these, and a
/// key holds only those it was given (`durinctl issuer add NAME --may ...`).
package enum IssuerRight: String, CaseIterable, Sendable, Comparable {
    /// issue/: a token for a user, without their password.
    case issue
    /// introspect/: whether a token is live, and whose.
    case introspect
    /// revoke/: end a token, or a user's tokens.
    case revoke
    /// users/: create, change and remove users who are not staff.
    case users
    /// With `users`: make users staff, take it away, and change staff users. Staff
    /// reach the console, so only a key given this can make or change one.
    case staff

    /// What a key made before rights existed could do, and still can: no more.
    package static let before: Set<IssuerRight> = [.issue, .introspect, .revoke]

    /// `issue,users`; nil when a word is not a right.
    package static func parse(_ list: String) -> Set<IssuerRight>? {
        var rights: Set<IssuerRight> = []
        for word in list.split(separator: ",") {
            guard let right = IssuerRight(rawValue: word.trimmingCharacters(in: .whitespaces)) else { return nil }
            rights.insert(right)
        }
        return rights
    }

    /// As stored and shown: sorted, comma-separated.
    package static func text(_ rights: Set<IssuerRight>) -> String { rights.sorted().map(\.rawValue).joined(separator: ",") }

    package static func < (a: IssuerRight, b: IssuerRight) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// An application allowed to call the issuer routes (issue/, introspect/, revoke/,
/// users/): it proves itself with a key, of which Redis holds only the SHA-256 digest.
package struct IssuerRecord: Equatable, Sendable {
    package let name: String
    /// The clients it may issue tokens for; empty: any client.
    package let clients: [String]
    package let created: EpochMillis
    /// What it may do. A key without the field (made before rights existed) has
    /// `IssuerRight.before`; an unreadable list grants nothing.
    package let rights: Set<IssuerRight>

    package func mayIssue(for client: String) -> Bool { clients.isEmpty || clients.contains(client) }

    package func may(_ right: IssuerRight) -> Bool { rights.contains(right) }

    /// The one decoder of an issuer hash (`durin:issuer:<digest>`).
    init?(fields: [String: String]) {
        guard let name = fields["name"], !name.isEmpty else { return nil }
        self.name = name
        clients = (fields["clients"] ?? "").split(separator: ",").map(String.init)
        created = fields["created"].flatMap { EpochMillis($0) } ?? 0
        rights = fields["may"].map { IssuerRight.parse($0) ?? [] } ?? IssuerRight.before
    }
}

/// Issuer keys: `durinctl issuer add|list|remove`, and the lookup `issue/` makes.
///
/// Layout: `<prefix>issuer:<key digest>` hash (name, clients, created) and
/// `<prefix>issuers` hash (name -> key digest), changed together by one script.
extension AdminStore {
    /// Creates an issuer and returns its key (shown once, never stored).
    /// An issuer may name any client but the console's: console sessions come only
    /// from the console's sign-in.
    package func addIssuer(_ name: String, clients: [String], rights: Set<IssuerRight> = IssuerRight.before) throws(Failure) -> Token {
        if clients.contains(consoleClient) {
            throw .reserved("client \(consoleClient) is the operator console's: no issuer may issue, introspect or revoke its sessions")
        }
        if rights.contains(.staff) && !rights.contains(.users) { throw .reserved("the right staff goes with users") }
        let key = Token.generate(length: 64)
        if try !run(
            AddIssuerScript(name: name, keyDigest: Token.sha256Hex(of: key.value), clients: clients, rights: IssuerRight.text(rights)))
        {
            throw .exists("issuer \(name)")
        }
        return key
    }

    /// Gives an issuer exactly these rights, from its next call on.
    package func setIssuerRights(_ name: String, _ rights: Set<IssuerRight>) throws(Failure) {
        if rights.contains(.staff) && !rights.contains(.users) { throw .reserved("the right staff goes with users") }
        if try !run(SetIssuerRightsScript(name: name, rights: IssuerRight.text(rights))) { throw .notFound("issuer \(name)") }
    }

    package func issuers() throws(StoreError) -> [IssuerRecord] {
        let digests = try connection.call(["HGETALL", keys.issuers]).fieldMap
        guard !digests.isEmpty else { return [] }
        let replies: [RedisReply]
        do { replies = try connection.pipeline(digests.values.map { ["HGETALL", keys.issuer($0)] }) } catch { throw StoreError(error) }
        return replies.compactMap { IssuerRecord(fields: $0.fieldMap) }.sorted { $0.name < $1.name }
    }

    package func removeIssuer(_ name: String) throws(Failure) {
        if try !run(RemoveIssuerScript(name: name)) { throw .notFound("issuer \(name)") }
    }
}

extension TokenStore {
    /// The issuer a key belongs to, or nil: one read of the key's digest.
    package func issuer(key: String) throws(StoreError) -> IssuerRecord? {
        IssuerRecord(fields: try connection.call(["HGETALL", keys.issuer(Token.sha256Hex(of: key))]).fieldMap)
    }
}
