/// The routes of DESIGN §3, matched on PATH_INFO with or without the trailing slash.
public enum Route: Equatable, Sendable {
    case login, refresh, logout, logoutAll, verify

    /// The methods each route answers (DRF adds OPTIONS to every view).
    public var allowedMethods: [String] {
        switch self {
        case .login, .refresh, .logout, .logoutAll: return ["POST", "OPTIONS"]
        case .verify: return ["GET", "HEAD", "OPTIONS"]
        }
    }

    /// Whether the route needs a token (everything but login).
    public var requiresToken: Bool { self != .login }

    /// DRF's view name (shown by OPTIONS).
    public var viewName: String {
        switch self {
        case .login: return "Login"
        case .refresh: return "Refresh"
        case .logout: return "Logout"
        case .logoutAll: return "Logout All"
        case .verify: return "Verify"
        }
    }

    public static func match(_ pathInfo: String) -> Route? {
        var path = Substring(pathInfo)
        while path.hasPrefix("/") { path = path.dropFirst() }
        if path.hasSuffix("/") { path = path.dropLast() }
        switch path {
        case "login": return .login
        case "refresh": return .refresh
        case "logout": return .logout
        case "logoutall": return .logoutAll
        case "verify": return .verify
        default: return nil
        }
    }
}
