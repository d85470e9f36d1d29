import ArgumentParser
import DurinCore
import DurinHTTP
import DurinStore
import Foundation

/// Prints the event stream (durin's signals): token created, renewed, expired,
/// revoked; login and failed login. Events never contain a token.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Print token and login events.")

    @Flag(help: "Keep printing new events as they arrive (Ctrl-C stops).") var follow = false
    @Option(help: "How many of the latest events to print first.") var last: Int = 100
    @OptionGroup var output: JSONFlag

    @OptionGroup var settings: Settings
    func run() throws {
        let ctx = try settings.context()
        let admin = ctx.admin
        // Continue after the last event shown; from the start when the stream is
        // empty (re-reading `$` each time would miss events between two reads).
        var lastID = "0-0"
        for event in try attempt({ try admin.recentEvents(count: last) }) {
            show(event, ctx)
            lastID = event.id
        }
        guard follow else { return }
        while true {
            // Short blocking reads, well within the connection's read timeout.
            for event in try attempt({ try admin.events(after: lastID, blockMillis: 1000) }) {
                show(event, ctx)
                lastID = event.id
            }
        }
    }

    private func show(_ event: Event, _ ctx: Context) {
        if output.json {
            write(JSONValue.object([("id", .string(event.id))] + event.fields.map { ($0.0, .string($0.1)) }).rendered)
            return
        }
        // Fields as stored: escaped, whatever wrote them.
        let field = { (name: String) in Terminal.escaped(event[name] ?? "") }
        let time = event["time"].flatMap { EpochMillis($0) }.map { ctx.format($0) } ?? "-"
        var line = "\(time)  \(event["type"].map(Terminal.escaped) ?? "?")  user=\(field("user"))"
        if let c = event["client"], !c.isEmpty { line += " client=\(field("client"))" }
        if let s = event["session"], !s.isEmpty { line += " session=\(field("session"))" }
        if event["reason"] != nil { line += " reason=\(field("reason"))" }
        if let i = event["issuer"], !i.isEmpty { line += " issuer=\(field("issuer"))" }
        write(line)
    }

    private func write(_ line: String) { Terminal.out(line) }
}
