import ArgumentParser
import DurinCore
import DurinStore

/// The keys that sign the identity assertions protected upstreams receive
/// (`$durin_assertion on`), published at `jwks.json`.
struct AssertionKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assertion-key",
        abstract: "Manage the keys that sign identity assertions (X-Durin-Assertion, jwks.json).",
        subcommands: [List.self, Rotate.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys: which signs, and until when a retired one is published.")
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            let keys = try attempt { try ctx.tokens.assertionKeys() }
            let now = WallClock.nowMillis()
            for key in keys {
                let state: String
                if let until = key.publishedUntil(lifetime: ctx.config.assertionTTL) {
                    state = now < until ? "published until \(ctx.format(until))" : "expired"
                } else {
                    state = "signs"
                }
                Terminal.out("\(key.kid)\tcreated \(ctx.format(key.created))\t\(state)")
            }
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a key and sign with it.",
            discussion: """
                Every responder signs with the new key within 5 seconds, once it is published. The keys it replaces stay \
                in jwks.json until the longest assertion they signed has expired, and as long again \
                (DURIN_ASSERTION_TTL twice, at most TTL and a minute); keys past that are removed.
                """)
        @OptionGroup var settings: Settings
        func run() throws {
            let ctx = try settings.context()
            let now = WallClock.nowMillis()
            let fresh = AssertionKey.generate(now: now)
            try attempt {
                let tokens = ctx.tokens
                let old = try tokens.assertionKeys()
                try tokens.saveAssertionKey(fresh)
                for key in old {
                    if key.retired == nil {
                        try tokens.saveAssertionKey(key.retired(at: now))
                    } else if !key.isPublished(at: now, lifetime: ctx.config.assertionTTL) {
                        try tokens.removeAssertionKey(kid: key.kid)
                    }
                }
            }
            Terminal.out("signing with \(fresh.kid)")
        }
    }
}
