package import DurinCore

/// A protected location's rules, checked in the same round trip as the token.
package struct AccessRules: Sendable, Equatable {
    package var allowClients: [String] = []
    package var denyClients: [String] = []
    /// Apply the (user, client) throttle: the client's rate, else `defaultRate`.
    package var throttle = false
    package var defaultRate: ThrottleRate?
    /// The operator console's own check: only a console session passes (and no
    /// other token). Everywhere else a console session is no token at all
    /// (`TokenStore.admits`).
    package var console = false

    package init(allowClients: [String] = [], denyClients: [String] = [], throttle: Bool = false, defaultRate: ThrottleRate? = nil) {
        self.allowClients = allowClients
        self.denyClients = denyClients
        self.throttle = throttle
        self.defaultRate = defaultRate
    }

    package static let none = AccessRules()

    /// The console's check of its cookie: a console session and nothing else.
    package static func consoleSession(client: String) -> AccessRules {
        var rules = AccessRules(allowClients: [client])
        rules.console = true
        return rules
    }

    /// durin's AllowSpecificClients and DisallowSpecificClients.
    package func permits(client: String) -> Bool {
        (allowClients.isEmpty || allowClients.contains(client)) && !denyClients.contains(client)
    }
}
