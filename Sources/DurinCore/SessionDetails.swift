/// Where a session was last logged into from: kept with its token (fields `a`, `g`
/// and `l` of the token hash), shown to operators (`durinctl token list`, the
/// console) and, with DURIN_SESSION_DETAILS, to the user in `sessions/`.
///
/// Every value is bounded here, once, before it is stored: a client chooses all
/// three, and a token hash whose values stay short stays a compact listpack
/// (docs/capacity.md). What is stored is plain printable text, so that neither a
/// terminal nor a page can be driven by it.
package struct SessionDetails: Sendable, Equatable {
    /// The client address nginx vouches for (REMOTE_ADDR).
    package var address: String?
    /// The User-Agent header, shortened (`userAgent(_:)`).
    package var userAgent: String?
    /// The user's own name for the device (the login body's `label`).
    package var label: String?

    package init(address: String? = nil, userAgent: String? = nil, label: String? = nil) {
        self.address = address.flatMap(Self.address)
        self.userAgent = userAgent.flatMap(Self.userAgent)
        self.label = label.flatMap { $0.isEmpty ? nil : $0 }
    }

    package var isEmpty: Bool { address == nil && userAgent == nil && label == nil }

    /// The longest address kept: an IPv6 address with an IPv4 tail is 45 characters.
    package static let addressLimit = 45
    /// How much of a User-Agent is kept, in bytes: a browser's says which browser,
    /// version and system within this once the words every browser sends are
    /// dropped, and a token hash with the details stays within 400 bytes of Redis
    /// memory (docs/capacity.md).
    package static let userAgentLimit = 48
    /// The longest label, in characters (DRF's `max_length`).
    package static let labelLimit = 32

    /// An address as nginx gives it; nil when it is not one (nginx always gives one,
    /// so anything else is dropped rather than stored).
    static func address(_ raw: String) -> String? {
        let bytes = raw.utf8
        guard !bytes.isEmpty, bytes.count <= addressLimit,
            bytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) || $0 == 0x2E || $0 == 0x3A })
        else { return nil }
        return raw
    }

    /// A User-Agent as stored: control and format characters become spaces, runs
    /// of spaces one, the words every browser sends are dropped (`frozenWords`,
    /// `(KHTML, like Gecko)`), and what is left is cut to `userAgentLimit` bytes,
    /// between words where it can. nil when nothing is left.
    ///
    ///     Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36
    ///     (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0
    package static func userAgent(_ raw: String) -> String? {
        var cleaned = ""
        cleaned.reserveCapacity(min(raw.utf8.count, 512))
        for scalar in raw.unicodeScalars.prefix(512) {
            let category = scalar.properties.generalCategory
            let blank =
                scalar.properties.isWhitespace || category == .control || category == .format
                || category == .lineSeparator || category == .paragraphSeparator || category == .surrogate
            cleaned.unicodeScalars.append(blank ? " " : scalar)
        }
        let words = cleaned.split(separator: " ", omittingEmptySubsequences: true)
        var kept: [Substring] = []
        var i = 0
        while i < words.count {
            let word = words[i]
            if i + 2 < words.count && word == "(KHTML," && words[i + 1] == "like" && words[i + 2] == "Gecko)" {
                i += 3
                continue
            }
            if !Self.frozenWords.contains(where: { word == $0 || ($0.hasSuffix("/") && word.hasPrefix($0)) }) { kept.append(word) }
            i += 1
        }
        let joined = kept.joined(separator: " ")
        guard !joined.isEmpty else { return nil }
        return truncated(joined, toBytes: userAgentLimit)
    }

    /// Words that every browser of a kind sends, frozen for compatibility: they say
    /// nothing about the browser (a word ending in `/` drops any version after it).
    /// Chrome's `Safari/537.36` goes; Safari's own (`Safari/604.1`) stays.
    static let frozenWords: [Substring] = ["Mozilla/5.0", "AppleWebKit/", "Gecko/20100101", "Safari/537.36"]

    /// The longest prefix of `text` of at most `limit` UTF-8 bytes that ends on a
    /// character boundary; at the last space when that keeps more than half.
    static func truncated(_ text: String, toBytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var out = ""
        var used = 0
        var lastSpace: String.Index?
        for character in text {
            let size = character.utf8.count
            if used + size > limit { break }
            if character == " " { lastSpace = out.endIndex }
            out.append(character)
            used += size
        }
        if let lastSpace, out.utf8.distance(from: out.startIndex, to: lastSpace) > limit / 2 {
            return String(out[..<lastSpace])
        }
        return out
    }

    /// Why a label is refused, in DRF's words where DRF has them; nil when it is fine.
    /// A label is display text: at most `labelLimit` characters, none of them a
    /// control or format character.
    package static func labelProblem(_ label: String) -> String? {
        if label.unicodeScalars.contains("\u{0}") { return "Null characters are not allowed." }
        if label.unicodeScalars.count > labelLimit { return "Ensure this field has no more than \(labelLimit) characters." }
        if label.unicodeScalars.contains(where: {
            let c = $0.properties.generalCategory
            return c == .control || c == .format || c == .lineSeparator || c == .paragraphSeparator || c == .surrogate
        }) {
            return "Enter a label without control characters."
        }
        return nil
    }
}
