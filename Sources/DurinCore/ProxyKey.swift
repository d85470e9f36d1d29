/// The per-install secret by which durin-fcgi knows a request came through nginx.
///
/// The FastCGI socket is open to group www-data, which on Debian is also the user
/// of PHP-FPM and other web applications: any of their processes can connect and
/// send params of its choosing (DURIN_TRUSTED, DURIN_METRICS, REMOTE_ADDR, ...).
/// nginx's master process reads its configuration as root, so a root-only include
/// (`fastcgi_param DURIN_PROXY_KEY "...";`, written at install) gives nginx a value
/// its own workers' user cannot read from disk. durin-fcgi refuses every request
/// whose DURIN_PROXY_KEY param is not this value.
package enum ProxyKey {
    package static let expected = "32 to 256 characters of A-Z, a-z, 0-9, - and _ (openssl rand -hex 32)"

    /// Long enough not to be guessed, and nothing nginx would read as syntax in a
    /// quoted param value (no quotes, `$`, `;`, braces or white space).
    package static func isWellFormed(_ key: String) -> Bool {
        (32...256).contains(key.utf8.count)
            && key.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F
            }
    }

    /// Whether a request's DURIN_PROXY_KEY param is `key`, in time that does not
    /// depend on where they differ.
    package static func admits(_ sent: [UInt8]?, key: [UInt8]) -> Bool {
        guard let sent else { return false }
        return constantTimeEquals(sent, key)
    }

    /// The key in nginx's include (`fastcgi_param DURIN_PROXY_KEY "KEY";`), for
    /// durinctl check; nil when the text holds no such line.
    package static func fromNginxInclude(_ text: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count == 3, words[0] == "fastcgi_param", words[1] == "DURIN_PROXY_KEY" else { continue }
            var value = Substring(words[2])
            guard value.hasSuffix(";") else { continue }
            value = value.dropLast()
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = value.dropFirst().dropLast() }
            return String(value)
        }
        return nil
    }

    /// The include nginx reads: one param line, and why the file must stay root's.
    package static func nginxInclude(key: String) -> String {
        """
        # durin's proxy key: nginx sends it with every request to durin-fcgi, which
        # answers nothing without it. Keep this file root's, mode 0600: nginx's master
        # reads it as root, and no other process (its own workers included) may.
        fastcgi_param DURIN_PROXY_KEY "\(key)";

        """
    }
}
