import Foundation

/// What a new password must pass: Django's four default validators, in Django's
/// order and with Django's texts, so that an application moved from Django tells
/// its users the same thing. Applied wherever a password is chosen by a person or
/// an application (password/, a login that must change its password, users/);
/// never to a stored hash, and never to a password being checked.
package struct PasswordPolicy: Sendable, Equatable {
    /// DURIN_PASSWORD_MIN_LENGTH (Django's MinimumLengthValidator, 8).
    package var minimumLength = 8
    /// DURIN_PASSWORD_DENYLIST's passwords, lowercased and trimmed as Django's
    /// CommonPasswordValidator compares them.
    package var denied: Set<String> = []

    /// Django's UserAttributeSimilarityValidator: the attributes it compares, with
    /// the names its message gives them (their model's verbose names).
    package static let comparedAttributes: [(field: String, name: String)] = [
        ("username", "username"), ("first_name", "first name"), ("last_name", "last name"), ("email", "email address"),
    ]
    /// Its `max_similarity`.
    static let maximumSimilarity = 0.7

    package init(minimumLength: Int = 8, denied: Set<String> = []) {
        self.minimumLength = minimumLength
        self.denied = denied
    }

    /// One line of a deny-list file, as it is compared.
    package static func normalized(_ password: String) -> String {
        password.lowercased().trimmingCharacters(in: .whitespaces)
    }

    /// Every rule `password` breaks, as Django words each; empty: it passes.
    /// `attributes`: the user's username and profile fields by name.
    package func problems(_ password: String, attributes: [String: String]) -> [String] {
        var found: [String] = []
        if let similar = similarAttribute(password, attributes) { found.append("The password is too similar to the \(similar).") }
        let length = password.unicodeScalars.count
        if length < minimumLength {
            found.append(
                "This password is too short. It must contain at least \(minimumLength) character\(minimumLength == 1 ? "" : "s").")
        }
        if denied.contains(Self.normalized(password)) { found.append("This password is too common.") }
        if !password.isEmpty,
            password.unicodeScalars.allSatisfy({ $0.properties.numericType == .decimal || $0.properties.numericType == .digit })
        {
            found.append("This password is entirely numeric.")
        }
        return found
    }

    /// The name of the first attribute the password is too close to: Django splits
    /// each value at non-word characters and compares every part (and the whole
    /// value) with `SequenceMatcher.quick_ratio`, lowercased, skipping parts too
    /// short to matter against a long password.
    func similarAttribute(_ password: String, _ attributes: [String: String]) -> String? {
        let lowered = Array(password.lowercased().unicodeScalars)
        for (field, name) in Self.comparedAttributes {
            guard let value = attributes[field], !value.isEmpty else { continue }
            let whole = value.lowercased()
            var parts = Self.splitAtNonWord(whole)
            parts.append(Array(whole.unicodeScalars))
            for part in parts {
                if Self.exceedsMaximumLengthRatio(lowered.count, part.count) { continue }
                if Self.quickRatio(lowered, part) >= Self.maximumSimilarity { return name }
            }
        }
        return nil
    }

    /// Django's `exceeds_maximum_length_ratio`: a part much shorter than the
    /// password cannot make it similar.
    static func exceedsMaximumLengthRatio(_ passwordLength: Int, _ valueLength: Int) -> Bool {
        passwordLength >= 10 * valueLength && Double(valueLength) < maximumSimilarity / 2 * Double(passwordLength)
    }

    /// Python's `re.split(r"\W+", value)`: empty parts included, as Python keeps them.
    static func splitAtNonWord(_ value: String) -> [[Unicode.Scalar]] {
        var parts: [[Unicode.Scalar]] = [[]]
        var inSeparator = false
        for scalar in value.unicodeScalars {
            if Names.isWordCharacter(scalar) {
                parts[parts.count - 1].append(scalar)
                inSeparator = false
            } else if !inSeparator {
                parts.append([])
                inSeparator = true
            }
        }
        return parts
    }

    /// `difflib.SequenceMatcher(a, b).quick_ratio()`: twice the size of the
    /// multiset intersection over the total length.
    static func quickRatio(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Double {
        let total = a.count + b.count
        guard total > 0 else { return 1 }
        var available: [Unicode.Scalar: Int] = [:]
        for s in b { available[s, default: 0] += 1 }
        var matches = 0
        for s in a {
            if let n = available[s], n > 0 {
                available[s] = n - 1
                matches += 1
            }
        }
        return 2 * Double(matches) / Double(total)
    }
}
