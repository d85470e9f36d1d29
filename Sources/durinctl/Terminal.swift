import Foundation

/// Everything durinctl writes passes through here, so that no stored string (a
/// name or a profile field from a Django dump, an event an older release wrote, a
/// record label in an error) reaches the operator's terminal as a control sequence.
///
/// Two layers. Values shown inside a line are `escaped`: every control character,
/// newline and tab included, and every bidirectional override shows as a visible
/// `\u{…}`, so a value can neither move the cursor, retitle the window nor forge or
/// reorder a line. And every write is `filtered`: whatever a caller forgot to
/// escape, only the newlines and tabs of durinctl's own formatting pass as they are.
enum Terminal {
    /// A value for a line of text.
    static func escaped(_ value: String) -> String { render(value, keepLayout: false) }

    /// A whole text: as `escaped`, but newlines and tabs stay.
    static func filtered(_ text: String) -> String { render(text, keepLayout: true) }

    /// C0 and C1 controls and DEL; and the bidirectional marks, embeddings,
    /// overrides and isolates, which reorder what follows them on screen.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    private static func render(_ text: String, keepLayout: Bool) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar) && !(keepLayout && (scalar == "\n" || scalar == "\t")) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// One line to standard output, written at once (a follower piped into another
    /// program must not sit on lines in a stdio buffer).
    static func out(_ line: String) {
        FileHandle.standardOutput.write(Data((filtered(line) + "\n").utf8))
    }

    static func err(_ line: String) {
        FileHandle.standardError.write(Data((filtered(line) + "\n").utf8))
    }
}
