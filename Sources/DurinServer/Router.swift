/// The routes of the HTTP API (docs/api.md, docs/architecture.md), matched on
/// PATH_INFO with or without the trailing slash.
public enum Route: Equatable, Sendable {
    case login, refresh, logout, logoutAll, verify
    case sessions
    /// `sessions/<id>/`: the id as written (durin answers 404 for a non-integer).
    case session(String)
    case apiAccess, issue, ready
    /// Prometheus metrics, only where nginx sets `DURIN_METRICS 1`.
    case metrics

    /// The methods each route answers (DRF adds OPTIONS to every view, HEAD to GET).
    public var allowedMethods: [String] {
        switch self {
        case .login, .refresh, .logout, .logoutAll, .issue: return ["POST", "OPTIONS"]
        case .verify, .sessions: return ["GET", "HEAD", "OPTIONS"]
        case .session: return ["DELETE", "OPTIONS"]
        case .apiAccess: return ["GET", "POST", "DELETE", "HEAD", "OPTIONS"]
        case .ready, .metrics: return ["GET", "HEAD"]
        }
    }

    /// Whether the route needs a token.
    public var requiresToken: Bool {
        switch self {
        case .login, .issue, .ready, .metrics: return false
        default: return true
        }
    }

    /// DRF's view name (shown by OPTIONS).
    public var viewName: String {
        switch self {
        case .login: return "Login"
        case .refresh: return "Refresh"
        case .logout: return "Logout"
        case .logoutAll: return "Logout All"
        case .verify: return "Verify"
        case .sessions, .session: return "Token Sessions"
        case .apiAccess: return "API Access Token"
        case .issue: return "Issue"
        case .ready: return "Ready"
        case .metrics: return "Metrics"
        }
    }

    /// The `route` label of `durin_requests_total`: an index into `Metrics.routes`.
    var metricsIndex: Int {
        switch self {
        case .login: return 0
        case .refresh: return 1
        case .logout: return 2
        case .logoutAll: return 3
        case .verify: return 4
        case .sessions: return 5
        case .session: return 6
        case .apiAccess: return 7
        case .issue: return 8
        case .ready: return 9
        case .metrics: return 10
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
        case "sessions": return .sessions
        case "apiaccess": return .apiAccess
        case "issue": return .issue
        case "ready": return .ready
        case "metrics": return .metrics
        default: break
        }
        // durin's router writes `sessions//<id>`; nginx merges the slashes, but a
        // server that does not still reaches the same session.
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if parts.count == 2, parts[0] == "sessions", path.hasPrefix("sessions/") { return .session(String(parts[1])) }
        return nil
    }
}
