import ArgumentParser
import DurinCore
import DurinHTTP
import DurinMigration
import DurinStore
import Foundation

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import users, clients and live tokens from another service.",
        subcommands: [Django.self])

    /// `durinctl import django FILE`: a django-rest-durin site's users, clients and live
    /// tokens, so that nobody has to log in again after the move.
    struct Django: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "django",
            abstract: "Import a django-rest-durin site: the JSON of `manage.py dumpdata auth.user durin`.",
            discussion: """
                Imports clients, then users, then live tokens, each record in one atomic step: the same \
                tokens, passwords, session ids and expiry. Safe to run again: records unchanged in Django \
                since the last import are left as they are here, and a token revoked here is never brought \
                back. Records that do not fit are named on stderr and the rest is imported. Exit status: 0 \
                when every record was imported, 1 when any was refused.
                """)

        @Argument(help: "The dump, or - for standard input.") var file: String
        @Flag(help: "Print what an import would do, and write nothing.") var dryRun = false
        @Option(
            help: ArgumentHelp(
                "An earlier dump of the same site, imported before: tokens in it and not in FILE were deleted in Django "
                    + "since (logout, logoutall), and are revoked here.", valueName: "EARLIER-DUMP"))
        var previous: String?
        @Option(
            help: ArgumentHelp(
                "Keep this many session ids free above the dump's largest token id, for tokens Django issues before the switch.",
                valueName: "N"))
        var reserveIds: Int64 = 0
        @Flag(help: "Import tokens shorter than 32 characters too (durin's have 64; shorter ones can be guessed).")
        var allowShortTokens = false
        @OptionGroup var output: JSONFlag

        @OptionGroup var settings: Settings
        func validate() throws {
            guard reserveIds >= 0, reserveIds <= 1 << 52 else { throw ValidationError("--reserve-ids: expected 0 or more") }
        }

        func run() throws {
            let now = WallClock.nowMillis()
            let ctx = try settings.context()
            let dump = try Self.read(file, now: now, allowShortTokens: allowShortTokens, config: ctx.config)
            let earlier = try previous.map { try Self.read($0, now: now, allowShortTokens: allowShortTokens, config: ctx.config) }
            // Each imported token is checked against its client, its user and the
            // session-id sequence in one script: keys in several slots of a cluster.
            guard !KeySpace(configuration: ctx.config).cluster else {
                throw CLIError("durinctl import needs one Redis server (redis://, unix:// or redis-sentinel://), not a cluster")
            }
            try ctx.requireServiceSealingSecret(writing: !dryRun)
            var report = ImportReport(dryRun: dryRun)
            report.ignored = dump.ignored
            try attempt { try importRecords(dump, earlier: earlier, ctx: ctx, report: &report) }
            if output.json { printJSON(report.json) } else { report.text.forEach { Terminal.out($0) } }
            if report.refusedAny { throw ExitCode(1) }
        }

        private func importRecords(_ dump: DjangoDump, earlier: DjangoDump?, ctx: Context, report: inout ImportReport) throws {
            try moveToCurrentLayout(ctx, report: report)
            // Clients, then users, then tokens: a token needs both.
            dump.refusedClients.forEach { report.refuse(.clients, $0) }
            var clientsHere: [String: ImportOutcome] = [:]
            let clientResults = try ctx.admin.importClients(dump.clients.map(\.record), dryRun: dryRun)
            for (client, result) in zip(dump.clients, clientResults) {
                switch result {
                case .success(let outcome):
                    clientsHere[client.record.name] = outcome
                    report.count(.clients, outcome)
                case .failure(let error):
                    report.refuse(
                        .clients,
                        .init(
                            model: "durin.client", pk: client.pk, label: "\"\(client.record.name)\"",
                            reason: error.description))
                }
            }

            dump.refusedUsers.forEach { report.refuse(.users, $0) }
            var usersHere: [String: ImportOutcome] = [:]
            var failedUsers: Set<String> = []
            let userResults = try ctx.admin.importUsers(dump.users.map { ($0.record, $0.created) }, dryRun: dryRun)
            for (user, result) in zip(dump.users, userResults) {
                switch result {
                case .success(let outcome):
                    usersHere[user.record.username] = outcome
                    report.count(.users, outcome)
                    if let hasher = user.unsupportedHasher { report.unusable.append((user.record.username, hasher)) }
                case .failure(let error):
                    failedUsers.insert(user.record.username)
                    report.refuse(
                        .users,
                        .init(
                            model: "auth.user", pk: user.pk ?? user.record.username,
                            label: "\"\(user.record.username)\"", reason: error.description))
                }
            }
            for (name, hasher) in report.unusable {
                report.note(
                    "user \(name): its \(hasher) hash cannot be checked here (pbkdf2_sha256 and pbkdf2_sha1 can); "
                        + "imported unable to log in until a password is set: durinctl user set-password \(name) --password-stdin")
            }

            dump.refusedTokens.forEach { report.refuse(.tokens, $0) }
            var tokens: [DjangoDump.Token] = []
            for var t in dump.tokens {
                let label = "\(t.token.user)/\(t.token.client)"
                if failedUsers.contains(t.token.user) {
                    report.refuse(.tokens, .init(model: "durin.authtoken", pk: t.pk, label: label, reason: "its user was refused"))
                    continue
                }
                if clientsHere[t.token.client] == nil {
                    report.refuse(.tokens, .init(model: "durin.authtoken", pk: t.pk, label: label, reason: "its client was refused"))
                    continue
                }
                t.token.userPending = dryRun && usersHere[t.token.user] == .created
                t.token.clientPending = dryRun && clientsHere[t.token.client] == .created
                tokens.append(t)
            }
            let store = ctx.tokens
            let tokenResults = try store.importTokens(tokens.map(\.token), idFloor: dump.largestTokenPK + reserveIds, dryRun: dryRun)
            for (t, result) in zip(tokens, tokenResults) {
                report.token(t, result)
            }

            if let earlier {
                // Deleted in Django since the earlier dump: revoke exactly those tokens (by
                // digest), never one issued here.
                for value in earlier.tokenStrings.subtracting(dump.tokenStrings).sorted() {
                    let digest = Token.digest(of: value)
                    if dryRun {
                        if try store.trackedLookup(digest: digest) != nil { report.revoked += 1 }
                    } else if try store.revoke(digest: digest, reason: "revoked_in_django") != nil {
                        report.revoked += 1
                    }
                }
            }
        }

        /// The import writes layout 2 and looks a pair's token up there, so data an older
        /// release left in layout 1 moves first, as durin-fcgi moves it at start: else a
        /// layout-1 token would not be seen, and its later move would take the pair's
        /// index entry from the imported one. A dry run only says what would move.
        private func moveToCurrentLayout(_ ctx: Context, report: ImportReport) throws {
            let migration = LayoutMigration(connection: ctx.connection, configuration: ctx.config)
            guard try !migration.isCurrent() else { return }
            let moved = try migration.run(dryRun: dryRun)
            guard moved.tokens + moved.expiredTokens > 0 else { return }
            if dryRun {
                report.note(
                    "\(moved.tokens) tokens and \(moved.expiredTokens) expired tokens are in an older Redis layout: "
                        + "the import moves them to layout 2 first (durinctl migrate); this dry run does not see them")
            } else {
                report.note(moved.description)
            }
        }

        static func read(_ path: String, now: EpochMillis, allowShortTokens: Bool, config: Configuration) throws -> DjangoDump {
            let data: Data
            if path == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                    throw CLIError("cannot read \(path): \((error as NSError).localizedDescription)")
                }
            }
            do {
                return try DjangoDump(
                    bytes: Array(data), now: now, minimumTokenLength: allowShortTokens ? 1 : 32,
                    passwordIterationsMax: config.passwordIterationsMax)
            } catch { throw CLIError("\(path == "-" ? "stdin" : path): \(error)") }
        }
    }
}

/// What an import did (or would do), by kind, and its per-record messages on stderr.
struct ImportReport {
    enum Kind: String, CaseIterable { case clients, users, tokens }

    struct Tally {
        var created = 0, updated = 0, unchanged = 0, skipped = 0, refused = 0
    }

    let dryRun: Bool
    var tallies: [Kind: Tally] = [:]
    /// Users whose hash this service cannot check: (username, hasher).
    var unusable: [(String, String)] = []
    var expired = 0, goneHere = 0, superseded = 0, replaced = 0, renumbered = 0
    /// Tokens revoked because they were deleted in Django since the earlier dump.
    var revoked = 0
    var errors: [DjangoDump.Refusal] = []
    /// Records of other models in the dump, by model.
    var ignored: [String: Int] = [:]

    init(dryRun: Bool) { self.dryRun = dryRun }

    var refusedAny: Bool { !errors.isEmpty }

    mutating func count(_ kind: Kind, _ outcome: ImportOutcome) {
        switch outcome {
        case .created: tallies[kind, default: Tally()].created += 1
        case .updated: tallies[kind, default: Tally()].updated += 1
        case .unchanged: tallies[kind, default: Tally()].unchanged += 1
        }
    }

    mutating func refuse(_ kind: Kind, _ refusal: DjangoDump.Refusal) {
        tallies[kind, default: Tally()].refused += 1
        errors.append(refusal)
        Self.stderr(refusal.line)
    }

    func note(_ text: String) { Self.stderr("note: " + text) }

    mutating func token(_ t: DjangoDump.Token, _ result: Result<TokenImportOutcome, StoreError>) {
        let label = "\(t.token.user)/\(t.token.client)"
        func reject(_ why: String) { refuse(.tokens, .init(model: "durin.authtoken", pk: t.pk, label: label, reason: why)) }
        switch result {
        case .failure(let error): reject(error.description)
        case .success(.created(let id, let isRenumbered, let replacedID)):
            tallies[.tokens, default: Tally()].created += 1
            if isRenumbered {
                renumbered += 1
                note(
                    "durin.authtoken pk=\(t.pk) (\(label)): another of \(t.token.user)'s tokens has session id \(t.pk) here; "
                        + (dryRun ? "it would get a new one" : "it got \(id)"))
            }
            if let replacedID {
                replaced += 1
                note(
                    "durin.authtoken pk=\(t.pk) (\(label)) \(dryRun ? "would replace" : "replaced") session \(replacedID), "
                        + "the pair's token from an earlier import, which Django no longer has")
            }
        case .success(.updated): tallies[.tokens, default: Tally()].updated += 1
        case .success(.unchanged): tallies[.tokens, default: Tally()].unchanged += 1
        case .success(.expired):
            tallies[.tokens, default: Tally()].skipped += 1
            expired += 1
        case .success(.goneHere):
            tallies[.tokens, default: Tally()].skipped += 1
            goneHere += 1
        case .success(.superseded(let id)):
            tallies[.tokens, default: Tally()].skipped += 1
            superseded += 1
            note(
                "durin.authtoken pk=\(t.pk) (\(label)): \(t.token.user) holds a \(t.token.client) token issued here "
                    + "(session \(id)), which is kept; this one is not imported")
        case .success(.noUser): reject("no user \(t.token.user) here")
        case .success(.noClient): reject("no client \(t.token.client) here")
        case .success(.consoleClient):
            reject(
                "\(t.token.client) is the operator console's client here (DURIN_CONSOLE_CLIENT): console sessions come "
                    + "only from the console's sign-in")
        case .success(.conflict(let user, let client)):
            reject("this token is already here, for \(user)/\(client)")
        }
    }

    private func line(_ kind: Kind) -> String {
        let t = tallies[kind] ?? Tally()
        var s =
            "\(kind.rawValue): \(t.created) created, \(t.updated) updated, \(t.unchanged) unchanged, \(t.skipped) skipped, "
            + "\(t.refused) refused"
        if kind == .tokens {
            let reasons = [
                (expired, "expired"), (goneHere, "revoked or expired here since an earlier import"),
                (superseded, "the pair has a token issued here"),
            ].filter { $0.0 > 0 }
            if !reasons.isEmpty { s += " (skipped: " + reasons.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")" }
        }
        return s
    }

    var text: [String] {
        var lines: [String] = []
        if dryRun { lines.append("dry run: nothing was written; an import now would do this:") }
        lines += Kind.allCases.map(line)
        if revoked > 0 || replaced > 0 {
            lines.append(
                "tokens revoked: \(revoked) deleted in Django since the earlier dump, \(replaced) replaced by Django's newer token")
        }
        if !ignored.isEmpty {
            lines.append(
                "ignored (not users, clients or tokens): "
                    + ignored.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        }
        if !unusable.isEmpty {
            lines.append(
                "users unable to log in (hash not supported here): "
                    + unusable.map { "\(Terminal.escaped($0.0)) (\(Terminal.escaped($0.1)))" }.joined(separator: ", "))
        }
        return lines
    }

    var json: JSONValue {
        func tally(_ kind: Kind, _ extra: [(String, JSONValue)] = []) -> JSONValue {
            let t = tallies[kind] ?? Tally()
            return .object(
                [
                    ("created", .number(String(t.created))), ("updated", .number(String(t.updated))),
                    ("unchanged", .number(String(t.unchanged))), ("skipped", .number(String(t.skipped))),
                    ("refused", .number(String(t.refused))),
                ] + extra)
        }
        func n(_ v: Int) -> JSONValue { .number(String(v)) }
        return .object([
            ("dry_run", .bool(dryRun)),
            ("clients", tally(.clients)),
            (
                "users",
                tally(
                    .users,
                    [
                        (
                            "unusable_password",
                            .array(
                                unusable.map {
                                    .object([("username", .string($0.0)), ("hasher", .string($0.1))])
                                })
                        )
                    ])
            ),
            (
                "tokens",
                tally(
                    .tokens,
                    [
                        ("expired", n(expired)), ("gone_here", n(goneHere)), ("superseded", n(superseded)),
                        ("replaced", n(replaced)), ("renumbered", n(renumbered)), ("revoked", n(revoked)),
                    ])
            ),
            ("ignored", .object(ignored.sorted { $0.key < $1.key }.map { ($0.key, n($0.value)) })),
            (
                "errors",
                .array(
                    errors.map {
                        .object([
                            ("model", .string($0.model)), ("pk", .string($0.pk)), ("record", .string($0.label)),
                            ("error", .string($0.reason)),
                        ])
                    })
            ),
        ])
    }

    private static func stderr(_ line: String) { Terminal.err(line) }
}
