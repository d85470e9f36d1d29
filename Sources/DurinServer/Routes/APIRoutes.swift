import DurinStore

extension API {
    /// The HTTP API (docs/api.md), mounted at nginx's API location.
    package static let routes = RouteGroup(
        name: "api", location: .api,
        routes: [
            RouteSpec(
                "login", .fixed("login"), methods: ["POST", "OPTIONS"], viewName: "Login",
                .login(.whenTheClientRequires) { api, context, attempt, user in
                    try api.issueToken(
                        context, for: user, client: try API.clientName(attempt.client), event: "login",
                        clearingFailuresFrom: attempt.addressGroup, details: attempt.details, browserLogin: true)
                }),
            RouteSpec(
                "refresh", .fixed("refresh"), methods: ["POST", "OPTIONS"], viewName: "Refresh",
                .token(locationRules: false) { api, context, auth in try api.refresh(context, auth) }),
            RouteSpec(
                "logout", .fixed("logout"), methods: ["POST", "OPTIONS"], viewName: "Logout",
                .token(locationRules: false) { api, context, auth in try api.logout(context, auth) }),
            RouteSpec(
                "logoutall", .fixed("logoutall"), methods: ["POST", "OPTIONS"], viewName: "Logout All",
                .token(locationRules: false) { api, context, auth in try api.logoutAll(context, auth) }),
            RouteSpec(
                "verify", .fixed("verify"), methods: ["GET", "HEAD", "OPTIONS"], viewName: "Verify", timed: true,
                .token(locationRules: true) { api, context, auth in try api.verify(context, auth) }),
            RouteSpec(
                "sessions", .fixed("sessions"), methods: ["GET", "HEAD", "OPTIONS"], viewName: "Token Sessions",
                .token(locationRules: false) { api, context, auth in try api.sessions(context, auth) }),
            RouteSpec(
                "session", .pattern(["sessions", nil]), methods: ["DELETE", "OPTIONS"], viewName: "Token Sessions",
                .token(locationRules: false) { api, context, auth in try api.deleteSession(context, auth) }),
            RouteSpec(
                "apiaccess", .fixed("apiaccess"), methods: ["GET", "POST", "DELETE", "HEAD", "OPTIONS"],
                viewName: "API Access Token", exists: .apiAccessClient,
                .token(locationRules: false) { api, context, auth in try api.apiAccess(context, auth) }),
            RouteSpec(
                "password", .fixed("password"), methods: ["POST", "OPTIONS"], viewName: "Password Change",
                .hashedWithToken { api, context, auth in try api.changePassword(context, auth) }),
            RouteSpec(
                "totp", .fixed("totp"), methods: ["GET", "HEAD", "POST", "OPTIONS"], viewName: "Second Factor",
                .hashedWithToken { api, context, auth in try api.secondFactorRoute(context, auth) }),
            RouteSpec(
                "issue", .fixed("issue"), methods: ["POST", "OPTIONS"], viewName: "Issue", exists: .trustedLocation,
                .open { api, context in try api.issue(context) }),
            RouteSpec(
                "introspect", .fixed("introspect"), methods: ["POST", "OPTIONS"], viewName: "Introspect",
                .open { api, context in try api.introspect(context) }),
            RouteSpec(
                "revoke", .fixed("revoke"), methods: ["POST", "OPTIONS"], viewName: "Revoke",
                .open { api, context in try api.revokeForIssuer(context) }),
            RouteSpec(
                "users", .fixed("users"), methods: ["POST", "OPTIONS"], viewName: "Users",
                .hashedForIssuer(.users) { api, context, issuer in try api.createUser(context, issuer) }),
            RouteSpec(
                "user", .pattern(["users", nil]), methods: ["GET", "HEAD", "PATCH", "DELETE", "OPTIONS"], viewName: "User",
                .hashedForIssuer(.users) { api, context, issuer in try api.userRoute(context, issuer) }),
            RouteSpec(
                "signin", .fixed("signin"), methods: ["GET", "HEAD"], viewName: "Sign In", exists: .cookieLocation,
                .open { api, context in api.signInPage(context) }),
            RouteSpec(
                "signin_asset", .pattern(["signin", nil]), methods: ["GET", "HEAD"], viewName: "Sign In",
                exists: .cookieLocation, .open { api, context in try api.signInAsset(context) }),
            RouteSpec(
                "jwks", .fixed("jwks.json"), methods: ["GET", "HEAD"], viewName: "JWKS",
                .open { api, context in try api.jwks(context) }),
            RouteSpec(
                "ready", .fixed("ready"), methods: ["GET", "HEAD"], viewName: "Ready",
                .open { api, context in api.ready(context) }),
            RouteSpec(
                "metrics", .fixed("metrics"), methods: ["GET", "HEAD"], viewName: "Metrics", exists: .metricsLocation,
                .open { api, _ in api.metricsResponse() }),
            RouteSpec(
                "openapi", .fixed("openapi.json"), methods: ["GET", "HEAD"], viewName: "OpenAPI", exists: .openAPILocation,
                .open { _, _ in API.openAPIResponse }),
        ])
}
