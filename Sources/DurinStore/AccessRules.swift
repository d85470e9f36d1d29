import DurinCore

/// A protected location's rules, checked in the same round trip as the token.
public struct AccessRules: Sendable, Equatable {
    public var allowClients: [String] = []
    public var denyClients: [String] = []
    /// Apply the (user, client) throttle: the client's rate, else `defaultRate`.
    public var throttle = false
    public var defaultRate: ThrottleRate?

    public init(allowClients: [String] = [], denyClients: [String] = [], throttle: Bool = false, defaultRate: ThrottleRate? = nil) {
        self.allowClients = allowClients
        self.denyClients = denyClients
        self.throttle = throttle
        self.defaultRate = defaultRate
    }

    public static let none = AccessRules()

    /// durin's AllowSpecificClients and DisallowSpecificClients.
    public func permits(client: String) -> Bool {
        (allowClients.isEmpty || allowClients.contains(client)) && !denyClients.contains(client)
    }
}
