/// Where the sign-in page sends a browser back: only ever a path of this site. An
/// address of another site (`https://evil.example`, `//evil.example`, `/\evil.example`,
/// which browsers read as `//`), or anything with a control character, becomes `/`,
/// so the page cannot be used to send a signed-in user elsewhere (an open redirect).
package enum SignInReturn {
    /// `text` when it is a local path (one leading `/`, no backslash, no control
    /// character, at most 2,048 bytes); nil otherwise.
    package static func localPath(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count <= 2048, bytes.first == 0x2F else { return nil }
        if bytes.count > 1 && (bytes[1] == 0x2F || bytes[1] == 0x5C) { return nil }
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 != 0x7F && $0 != 0x5C }) else { return nil }
        return text
    }

    /// The path to return to, from the page's `next` parameter: `/` unless local.
    package static func destination(_ next: String?) -> String {
        next.flatMap(localPath) ?? "/"
    }
}
