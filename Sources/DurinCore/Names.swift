/// What user and client names may contain. Both become part of Redis key names,
/// so they are restricted to characters that cannot reach another key: no `:`,
/// no white space, no control characters.
public enum Names {
    /// Django's default username rule: letters, digits and `@ . + - _`, at most 150.
    public static func isValidUsername(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 150 && name.unicodeScalars.allSatisfy {
            $0.properties.isAlphabetic || $0.properties.numericType != nil || "@.+-_".unicodeScalars.contains($0)
        }
    }

    /// durin's `Client.name` is at most 64 characters; here also a key-safe word.
    public static func isValidClientName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "._-@+".unicodeScalars.contains($0)
        }
    }

    /// Profile field names (`--field KEY=VALUE`): lowercase identifiers, and not one of the
    /// fields the service itself keeps in the user hash.
    public static func isValidProfileField(_ name: String) -> Bool {
        let reserved: Set<String> = ["username", "password", "is_active", "created", "import_digest"]
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) || first == "_" else { return false }
        return !reserved.contains(name) && name.count <= 64
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
