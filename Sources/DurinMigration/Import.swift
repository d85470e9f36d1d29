import Codecs
import Crypto
package import DurinCore
package import DurinStore
import RedisClient

// `durinctl import django`: records another system issued, stored as this service
// stores its own. Every record is one script (Scripts/ImportScripts.swift), run in
// pipelined batches; each outcome is per record, so one that does not fit does not
// stop the others.

/// What an import did, or would do (dry run), with a client or a user.
package enum ImportOutcome: String, Sendable, Equatable {
    case created, updated, unchanged
}

/// A live token issued elsewhere (django-rest-durin's `AuthToken`).
package struct ImportedToken: Sendable, Equatable {
    package var token: Token
    package var user: String
    package var client: String
    package var created: EpochMillis
    package var expiry: EpochMillis
    /// The session id: durin's primary key, so that `sessions/` ids stay the same.
    package var id: Int64
    /// Dry run only: the user (client) is created by this same import, so that it is
    /// missing here yet is no error.
    package var userPending = false
    package var clientPending = false

    package init(token: Token, user: String, client: String, created: EpochMillis, expiry: EpochMillis, id: Int64) {
        self.token = token
        self.user = user
        self.client = client
        self.created = created
        self.expiry = expiry
        self.id = id
    }
}

/// What an import did, or would do (dry run), with a token.
package enum TokenImportOutcome: Sendable, Equatable {
    /// Stored. `renumbered`: another of the user's tokens here has its id, so it got
    /// a fresh one. `replacedID`: the pair's token from an earlier import, replaced.
    case created(id: Int64, renumbered: Bool, replacedID: Int64?)
    /// Already here; the later expiry (refreshed in Django) was taken.
    case updated(id: Int64)
    /// Already here, as imported.
    case unchanged(id: Int64)
    /// Its expiry has passed.
    case expired
    /// Imported before and gone here since (revoked or expired): not brought back.
    case goneHere
    /// The pair (user, client) holds a token issued here, which is kept.
    case superseded(byID: Int64)
    case noUser
    case noClient
    /// Of the operator console's client (DURIN_CONSOLE_CLIENT): never imported, since
    /// a console session comes only from the console's sign-in.
    case consoleClient
    /// The token is here already, for another user or client.
    case conflict(user: String, client: String)
}

extension AdminStore {
    /// Creates or updates each client; one outcome per client, in order.
    package func importClients(_ clients: [ClientRecord], dryRun: Bool) throws(StoreError) -> [Result<ImportOutcome, StoreError>] {
        let calls = clients.map { c in
            ImportClientScript(
                client: c,
                digest: Self.importDigest([
                    "client", c.name, c.tokenTTL.storedValue,
                    c.throttleRate?.description ?? "",
                ]), dryRun: dryRun)
        }
        return try connection.runPipelined(calls, context: context)
    }

    /// Creates or updates each user (`created`: when the account was made); one
    /// outcome per user, in order. A change of `isActive` applies to their tokens too.
    package func importUsers(_ users: [(user: UserRecord, created: EpochMillis)], dryRun: Bool)
        throws(StoreError) -> [Result<ImportOutcome, StoreError>]
    {
        let calls = users.map { u in
            var parts = ["user", u.user.username, u.user.passwordHash, u.user.isActive ? "1" : "0"]
            for (k, v) in u.user.profile.sorted(by: { $0.key < $1.key }) { parts += [k, v] }
            return ImportUserScript(
                user: u.user, created: u.created, digest: Self.importDigest(parts), dryRun: dryRun,
                passwordKey: keys.password(u.user.username))
        }
        return try connection.runPipelined(calls, context: context)
    }

    /// Identifies what was imported, so an unchanged record is recognised later: 120
    /// bits of SHA-256 in base64url, 20 characters, as layout 2 writes token digests.
    static func importDigest(_ parts: [String]) -> String {
        var bytes: [UInt8] = []
        for part in parts { bytes += Array(part.utf8) + [0x1F] }
        return Base64.encodeURLSafe(Array(SHA256.hash(data: bytes).prefix(15)))
    }
}

extension TokenStore {
    /// Stores each token as login stores its own (ImportTokenScript); one outcome per
    /// token, in order. A token of the console's client is refused (`.consoleClient`).
    /// - Parameter idFloor: the session-id sequence is set to at least this (and to the
    ///   largest id of `tokens`), so that tokens issued here later get other ids.
    package func importTokens(_ tokens: [ImportedToken], idFloor: Int64 = 0, dryRun: Bool)
        throws(StoreError) -> [Result<TokenImportOutcome, StoreError>]
    {
        let floor = max(idFloor, tokens.map(\.id).max() ?? 0)
        var calls: [ImportTokenScript] = []
        calls.reserveCapacity(tokens.count)
        for t in tokens where t.client != consoleClient {
            // Sealed as login seals its own (TokenStore.seal: under layout 2's digest).
            calls.append(
                ImportTokenScript(
                    token: t, digest: t.token.digest, sealed: dryRun ? "" : try seal(t.token),
                    graceMillis: graceMillis, idFloor: floor, dryRun: dryRun))
        }
        var stored = try connection.runPipelined(calls, context: context).makeIterator()
        return tokens.map { t in t.client == consoleClient ? .success(.consoleClient) : stored.next()! }
    }
}
