package import DurinCore
import RedisClient

/// An application allowed to use trusted issuance (`POST issue/`): it proves itself
/// with a key, of which Redis holds only the SHA-256 digest.
package struct IssuerRecord: Equatable, Sendable {
    package let name: String
    /// The clients it may issue tokens for; empty: any client.
    package let clients: [String]
    package let created: EpochMillis

    package func mayIssue(for client: String) -> Bool { clients.isEmpty || clients.contains(client) }

    /// The one decoder of an issuer hash (`durin:issuer:<digest>`).
    init?(fields: [String: String]) {
        guard let name = fields["name"], !name.isEmpty else { return nil }
        self.name = name
        clients = (fields["clients"] ?? "").split(separator: ",").map(String.init)
        created = fields["created"].flatMap { EpochMillis($0) } ?? 0
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
    package func addIssuer(_ name: String, clients: [String]) throws(Failure) -> Token {
        if clients.contains(consoleClient) {
            throw .reserved("client \(consoleClient) is the operator console's: no issuer may issue, introspect or revoke its sessions")
        }
        let key = Token.generate(length: 64)
        if try !run(AddIssuerScript(name: name, keyDigest: Token.sha256Hex(of: key.value), clients: clients)) {
            throw .exists("issuer \(name)")
        }
        return key
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
