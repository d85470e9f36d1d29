import DurinCore

/// A protected location's rules, checked in the same round trip as the token.
public struct AccessRules: Sendable, Equatable {
    public var allowClients: [String] = []
    public var denyClients: [String] = []
    /// Apply the (user, client) throttle: the client's rate, else `defaultRate`.
    public var throttle = false
    public var defaultRate: ThrottleRate?
    /// The operator console's own check: only a console session passes (and no
    /// other token). Everywhere else a console session is no token at all
    /// (`TokenStore.admits`).
    public var console = false

    public init(allowClients: [String] = [], denyClients: [String] = [], throttle: Bool = false, defaultRate: ThrottleRate? = nil) {
        self.allowClients = allowClients
        self.denyClients = denyClients
        self.throttle = throttle
        self.defaultRate = defaultRate
    }

    public static let none = AccessRules()

    /// The console's check of its cookie: a console session and nothing else.
    public static func consoleSession(client: String) -> AccessRules {
        var rules = AccessRules(allowClients: [client])
        rules.console = true
        return rules
    }

    /// durin's AllowSpecificClients and DisallowSpecificClients.
    public func permits(client: String) -> Bool {
        (allowClients.isEmpty || allowClients.contains(client)) && !denyClients.contains(client)
    }
}
