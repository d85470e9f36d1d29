/// What user and client names may contain. Both become part of Redis key names,
/// so they are restricted to characters that cannot reach another key: no `:`,
/// no white space, no control characters.
package enum Names {
    /// The most a username may hold: Django's `max_length` (150) counts code points,
    /// so a name is measured in Unicode scalars, never in characters (one grapheme
    /// may carry any number of combining marks).
    package static let usernameMaxScalars = 150
    /// ... and so at most this many bytes of UTF-8.
    package static let usernameMaxBytes = usernameMaxScalars * 4

    /// Django's default username rule (UnicodeUsernameValidator, `^[\w.@+-]+\Z`, and
    /// max_length 150): Python's `\w` is a letter (category L*), a number (a scalar
    /// with a numeric type) or `_`; combining marks are not word characters.
    package static func isValidUsername(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= usernameMaxBytes else { return false }
        var count = 0
        for scalar in name.unicodeScalars {
            count += 1
            guard count <= usernameMaxScalars, isWordCharacter(scalar) || "@.+-".unicodeScalars.contains(scalar) else { return false }
        }
        return true
    }

    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return scalar == "_" || scalar.properties.numericType != nil
        }
    }

    /// durin's `Client.name` is at most 64 characters; here also a key-safe word.
    package static func isValidClientName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "._-@+".unicodeScalars.contains($0)
            }
    }

    /// Profile field names (`--field KEY=VALUE`): lowercase identifiers, and not one of the
    /// fields the service itself keeps in the user hash.
    package static func isValidProfileField(_ name: String) -> Bool {
        !reservedUserFields.contains(name) && isFieldName(name)
    }

    /// The user hash's own fields: never a profile field, whoever writes it (an
    /// issuer's users/ call included, which must not reach `is_staff` this way).
    package static let reservedUserFields: Set<String> = [
        "username", "password", "is_active", "is_staff", "created", "import_digest", "pw_change", "otp",
    ]

    static func isFieldName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) || first == "_" else { return false }
        return name.count <= 64
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
