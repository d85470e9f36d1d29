import ArgumentParser
import DurinHTTP
import DurinMigration
import DurinStore
import Foundation
import RedisClient

/// Moves data written by an older release to the current Redis layout. durin-fcgi
/// does the same at start; this runs it on demand (before a rolling upgrade, say).
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move tokens from an older Redis layout to the current one, or from one server into a cluster.",
        discussion: """
            Safe to run again, or from several hosts at once: each token moves in one atomic step. With --from, \
            everything on that one server (clients, issuers, users and live tokens, with their session ids) is \
            copied into DURIN_REDIS_URL (a redis-cluster:// URL); records already there are left as they are.
            """)

    @Flag(help: "Count what would move; write nothing.") var dryRun = false
    @Option(
        help: ArgumentHelp(
            "The one server to move into DURIN_REDIS_URL: a Redis URL without a password (a user "
                + "name may be in it); the password comes from DURIN_MIGRATE_FROM_PASSWORD or --from-password-stdin.",
            valueName: "url"))
    var from: String?
    @Flag(help: "Read --from's password from standard input (first line).") var fromPasswordStdin = false
    @OptionGroup var output: JSONFlag

    @OptionGroup var settings: Settings
    func run() throws {
        let ctx = try settings.context()
        try ctx.requireServiceSealingSecret(writing: !dryRun)
        if let from { return try move(from: from, ctx) }
        let migration = LayoutMigration(connection: ctx.connection, configuration: ctx.config)
        let report = try attempt { try migration.run(dryRun: dryRun) }
        if output.json {
            printJSON(
                .object([
                    ("layout", .number(LayoutMigration.current)), ("already_current", .bool(report.alreadyDone)),
                    ("dry_run", .bool(dryRun)),
                    ("tokens", .number(String(report.tokens))), ("expired_tokens", .number(String(report.expiredTokens))),
                    ("passwords", .number(String(report.passwords))),
                    ("unsealable", .number(String(report.unsealable))),
                ]))
        } else if dryRun && !report.alreadyDone {
            Terminal.out(
                "would move \(report.tokens) tokens and \(report.expiredTokens) expired tokens to layout 2, and "
                    + "\(report.passwords) password hashes to keys of their own (layout 3)")
        } else {
            Terminal.out(report.description)
        }
    }

    /// A password in the URL would be on the command line, where `ps` shows it to
    /// every local user: it comes from the environment or standard input instead.
    private func move(from url: String, _ ctx: Context) throws {
        var endpoint: RedisEndpoint
        do { endpoint = try RedisEndpoint.parse(url) } catch { throw CLIError("--from: \(error)") }
        guard !endpoint.isCluster else { throw CLIError("--from names the one server to move from, not a cluster") }
        guard endpoint.password == nil else {
            throw CLIError(
                "--from: leave the password out of the URL (every local user can read a command line): "
                    + "give it in DURIN_MIGRATE_FROM_PASSWORD or on standard input with --from-password-stdin")
        }
        if fromPasswordStdin {
            endpoint.password = try readSecretFromStdin()
        } else if let password = ProcessInfo.processInfo.environment["DURIN_MIGRATE_FROM_PASSWORD"], !password.isEmpty {
            endpoint.password = password
        }
        let source = endpoint.connection(timeoutMilliseconds: ctx.config.redisTimeoutMillis)
        var sourceConfig = ctx.config
        sourceConfig.redisURL = url  // the source's key layout (one server): no credentials needed here
        // Data a release before layout 2 wrote moves to layout 2 on its server first.
        let layout = try attempt { try LayoutMigration(connection: source, configuration: sourceConfig).run(dryRun: dryRun) }
        if !layout.alreadyDone && !output.json {
            Terminal.out(dryRun ? "the source is in layout 1: `durinctl migrate` it first" : layout.description)
        }
        let move = ClusterMove(source: source, destination: ctx.connection, configuration: ctx.config)
        let report = try attempt { try move.run(dryRun: dryRun) }
        if output.json {
            printJSON(
                .object([
                    ("dry_run", .bool(dryRun)), ("clients", .number(String(report.clients))),
                    ("issuers", .number(String(report.issuers))), ("users", .number(String(report.users))),
                    ("tokens", .number(String(report.tokens))), ("home_pointers", .number(String(report.homePointers))),
                    ("unchanged", .number(String(report.unchanged))), ("updated", .number(String(report.updated))),
                    ("gone", .number(String(report.gone))), ("superseded", .number(String(report.superseded))),
                    ("revoked", .number(String(report.revoked))), ("deactivated", .number(String(report.deactivated))),
                ]))
        } else {
            Terminal.out(report.description)
        }
    }
}
