import ArgumentParser
import DurinHTTP
import DurinStore

/// Moves data written by an older release to the current Redis layout. durin-fcgi
/// does the same at start; this runs it on demand (before a rolling upgrade, say).
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move tokens from an older Redis layout to the current one.",
        discussion: "Safe to run again, or from several hosts at once: each token moves in one atomic step.")

    @Flag(help: "Count what would move; write nothing.") var dryRun = false
    @OptionGroup var output: JSONFlag

    func run() throws {
        let ctx = try Context.load()
        let migration = LayoutMigration(connection: ctx.connection, configuration: ctx.config)
        let report = try attempt { try migration.run(dryRun: dryRun) }
        if output.json {
            printJSON(.object([
                ("layout", .number("2")), ("already_current", .bool(report.alreadyDone)), ("dry_run", .bool(dryRun)),
                ("tokens", .number(String(report.tokens))), ("expired_tokens", .number(String(report.expiredTokens))),
                ("unsealable", .number(String(report.unsealable))),
            ]))
        } else if dryRun && !report.alreadyDone {
            print("would move \(report.tokens) tokens and \(report.expiredTokens) expired tokens to layout 2")
        } else {
            print(report.description)
        }
    }
}
