import Codecs

/// A systemd EnvironmentFile (`/etc/durin/durin.env`): `KEY=VALUE` lines, comments
/// (`#` or `;`) and blank lines skipped, a value's surrounding quotes (single or
/// double) removed, as systemd reads it for durin-fcgi; so that durinctl reads the
/// very settings the service runs with.
package enum EnvironmentFile {
    package static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingASCIIWhitespace()
            guard !line.isEmpty, !line.hasPrefix("#"), !line.hasPrefix(";"), let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq]).trimmingASCIIWhitespace()
            var value = String(line[line.index(after: eq)...]).trimmingASCIIWhitespace()
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            // No process environment can hold a NUL; a file can, and a value with one
            // would be cut where it reaches C: the line is not a setting.
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
                !value.utf8.contains(0)
            else { continue }
            values[key] = value
        }
        return values
    }
}
