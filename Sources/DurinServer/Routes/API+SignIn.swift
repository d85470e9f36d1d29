import Codecs
import DurinCore
import DurinHTTP

/// signin/: the page a browser without a session is sent to (durin-signin.conf), its
/// files in `SignIn/` (embedded by scripts/embed-assets.py). It
/// posts the user's name and password to login/ for `DURIN_SIGNIN_CLIENT`, whose
/// login sets the durin_session cookie, then goes back where the browser came
/// from: only ever a path of this site. No inline script or style (the console's
/// Content-Security-Policy); an operator's CSS file (`DURIN_SIGNIN_CSS`) themes it.
extension API {
    func signInPage(_ context: RequestContext) -> HTTPResponse {
        let request = context.request
        let query = FormURLEncoded.parse(Array((request.browser?.query ?? "").utf8))
        let next = SignInReturn.destination(query["next"])
        let mount = request.mountPrefix
        let theme = config.signInCSS == nil ? "" : #"<link rel="stylesheet" href="\#(Self.escaped(mount))/signin/theme.css">"#
        let page = SignInAssets.page.text
            .replacingOccurrences(of: "{mount}", with: Self.escaped(mount))
            .replacingOccurrences(of: "{theme}", with: theme)
            .replacingOccurrences(of: "{client}", with: Self.escaped(config.signInClient))
            .replacingOccurrences(of: "{next}", with: Self.escaped(next))
        return Self.page(SignInAssets.page.contentType, page)
    }

    /// signin/signin.js, signin/signin.css and the operator's signin/theme.css.
    func signInAsset(_ context: RequestContext) throws -> HTTPResponse {
        switch context.route?.parameter {
        case "signin.js": return Self.page(SignInAssets.script.contentType, SignInAssets.script.text)
        case "signin.css": return Self.page(SignInAssets.style.contentType, SignInAssets.style.text)
        case "theme.css":
            guard let css = config.signInCSS else { throw APIError.notFound }
            return Self.page("text/css; charset=utf-8", css)
        default: throw APIError.notFound
        }
    }

    static func page(_ contentType: String, _ text: String) -> HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", contentType)] + HTTPResponse.pageSecurityHeaders, body: Array(text.utf8))
    }

    /// Text for an HTML attribute or element.
    static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A browser that navigated to a cookie location without a session (no
    /// Authorization header, a GET or HEAD): the address of the sign-in page, with
    /// the way back. durin-signin.conf sends the browser there; anything else
    /// (an API call, a form POST) gets durin's 401.
    func signInRedirect(_ request: HTTPRequest) -> String? {
        guard request.directives.cookie, let browser = request.browser, request.authorization == nil else { return nil }
        let method = (browser.method ?? request.method).uppercased()
        guard method == "GET" || method == "HEAD" else { return nil }
        let back = SignInReturn.destination(browser.uri)
        return config.signInURL + "?next=" + PercentEncoding.encode(back)
    }
}
