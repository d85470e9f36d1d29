import Codecs
import DurinCore
import DurinHTTP

/// signin/: the page a browser without a session is sent to (durin-signin.conf). It
/// posts the user's name and password to login/ for `DURIN_SIGNIN_CLIENT`, whose
/// login sets the durin_session cookie, then goes back where the browser came
/// from: only ever a path of this site. No inline script or style (the console's
/// Content-Security-Policy); an operator's CSS file (`DURIN_SIGNIN_CSS`) themes it.
extension API {
    func signInPage(_ context: RequestContext) -> HTTPResponse {
        let request = context.request
        let query = Self.queryItems(request.browser?.query ?? "")
        let next = SignInReturn.destination(query["next"])
        let mount = request.mountPrefix
        let theme = config.signInCSS == nil ? "" : #"<link rel="stylesheet" href="\#(Self.escaped(mount))/signin/theme.css">"#
        let page = SignInPage.html
            .replacingOccurrences(of: "{mount}", with: Self.escaped(mount))
            .replacingOccurrences(of: "{theme}", with: theme)
            .replacingOccurrences(of: "{client}", with: Self.escaped(config.signInClient))
            .replacingOccurrences(of: "{next}", with: Self.escaped(next))
        return Self.page("text/html; charset=utf-8", page)
    }

    /// signin/signin.js, signin/signin.css and the operator's signin/theme.css.
    func signInAsset(_ context: RequestContext) throws -> HTTPResponse {
        switch context.route?.parameter {
        case "signin.js": return Self.page("text/javascript; charset=utf-8", SignInPage.script)
        case "signin.css": return Self.page("text/css; charset=utf-8", SignInPage.style)
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

    /// A query string's parameters (the last of a repeated name wins).
    static func queryItems(_ query: String) -> [String: String] {
        var items: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ s: Substring) -> String {
                String(decoding: PercentEncoding.decode(Array(s.utf8), plusIsSpace: true), as: UTF8.self)
            }
            items[decoded(kv[0])] = kv.count > 1 ? decoded(kv[1]) : ""
        }
        return items
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

/// The sign-in page's files.
enum SignInPage {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>Sign in</title>
        <link rel="stylesheet" href="{mount}/signin/signin.css">
        {theme}
        <script src="{mount}/signin/signin.js" defer></script>
        </head>
        <body>
        <main class="durin-signin">
        <h1>Sign in</h1>
        <form id="durin-signin" method="post" action="{mount}/login/" data-login="{mount}/login/" data-client="{client}" data-next="{next}">
        <input type="hidden" name="client" value="{client}">
        <label for="durin-username">Username</label>
        <input id="durin-username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
        <label for="durin-password">Password</label>
        <input id="durin-password" name="password" type="password" autocomplete="current-password" required>
        <p id="durin-error" role="alert" hidden></p>
        <button type="submit">Sign in</button>
        </form>
        </main>
        </body>
        </html>

        """

    /// Posts the form as JSON (the page's own origin sends `Origin`, which login/
    /// requires of a cookie login), then goes to the way back, once more checked to
    /// be of this origin.
    static let script = #"""
        "use strict";
        document.addEventListener("DOMContentLoaded", () => {
          const form = document.getElementById("durin-signin");
          const error = document.getElementById("durin-error");
          const button = form.querySelector("button");
          const show = (text) => { error.textContent = text; error.hidden = false; };
          form.addEventListener("submit", async (event) => {
            event.preventDefault();
            error.hidden = true;
            button.disabled = true;
            const data = new FormData(form);
            try {
              const answer = await fetch(form.dataset.login, {
                method: "POST",
                credentials: "same-origin",
                headers: { "Content-Type": "application/json", "Accept": "application/json" },
                body: JSON.stringify({ username: data.get("username"), password: data.get("password"), client: form.dataset.client }),
              });
              let body = {};
              try { body = await answer.json(); } catch (_) { body = {}; }
              if (answer.ok && !("token" in body)) {
                const next = new URL(form.dataset.next, window.location.origin);
                window.location.assign(next.origin === window.location.origin ? next.pathname + next.search + next.hash : "/");
                return;
              }
              if (answer.ok) {
                show("This sign-in is not set up for browsers: its client needs durinctl client set NAME --cookie.");
              } else {
                const first = body.detail || (body.non_field_errors || [])[0] || Object.values(body).flat()[0];
                show(typeof first === "string" ? first : "Sign-in failed (" + answer.status + ").");
              }
            } catch (_) {
              show("The sign-in service cannot be reached. Try again shortly.");
            } finally {
              button.disabled = false;
            }
          });
        });

        """#

    static let style = """
        :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
        body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: Canvas; color: CanvasText; }
        .durin-signin { width: min(22rem, 90vw); padding: 2rem; border: 1px solid color-mix(in srgb, CanvasText 20%, transparent); border-radius: 0.5rem; }
        .durin-signin h1 { margin: 0 0 1.5rem; font-size: 1.5rem; font-weight: 600; }
        .durin-signin form { display: grid; gap: 0.5rem; }
        .durin-signin label { font-size: 0.9rem; }
        .durin-signin input { font: inherit; padding: 0.5rem; margin-bottom: 0.5rem; }
        .durin-signin button { font: inherit; padding: 0.6rem; margin-top: 0.5rem; cursor: pointer; }
        #durin-error { color: #c62828; margin: 0; }

        """
}
