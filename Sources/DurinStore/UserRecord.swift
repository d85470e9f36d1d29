import DurinCore

/// A user account: username, Django password hash, active flag and profile fields.
package struct UserRecord: Sendable, Equatable {
    package var username: String
    /// Django's hash. Kept in a key of its own (`KeySpace.password`), read only where
    /// a password is checked (the login precheck): elsewhere `!`, unusable.
    package var passwordHash: String
    package var isActive: Bool
    /// May sign in to the operator console (`is_staff`, as Django's).
    package var isStaff: Bool
    /// Profile fields (`email`, `first_name`, ...) for DURIN_USER_FIELDS.
    package var profile: [String: String]
    /// Set by staff in the console: the next login must choose a new password
    /// (`pw_change`), cleared by any password change.
    package var mustChangePassword = false
    /// Whether a second factor is enrolled (`otp`): the secret itself is in a key of
    /// its own (`KeySpace.totp`), read only when a code is checked.
    package var hasTOTP = false

    package init(username: String, passwordHash: String, isActive: Bool, isStaff: Bool = false, profile: [String: String] = [:]) {
        self.username = username
        self.passwordHash = passwordHash
        self.isActive = isActive
        self.isStaff = isStaff
        self.profile = profile
    }

    /// From the user hash's fields; `password`: the hash from its own key, else a
    /// `password` field the hash still holds (layout 2, before its migration).
    init?(fields: [String: String], password: String? = nil) {
        guard let username = fields["username"] else { return nil }
        self.username = username
        passwordHash = password ?? fields["password"] ?? "!"
        isActive = fields["is_active"] == "1"
        isStaff = fields["is_staff"] == "1"
        mustChangePassword = fields["pw_change"] == "1"
        hasTOTP = fields["otp"] == "1"
        // The user hash also holds the user's token index (`t:<client>` fields),
        // which is not the profile.
        var profile = fields.filter { !$0.key.hasPrefix(KeySpace.tokenIndexPrefix) }
        for reserved in Names.reservedUserFields where reserved != "created" { profile[reserved] = nil }
        self.profile = profile
    }
}

/// What a check tells an upstream of a token's user beyond the name: read only
/// where a location needs it (`TokenStore.userDetails`), one HMGET of the user hash.
package struct UserDetails: Sendable, Equatable {
    package var isStaff: Bool
    /// The requested profile fields the user has, by name.
    package var fields: [String: String]

    package init(isStaff: Bool, fields: [String: String]) {
        self.isStaff = isStaff
        self.fields = fields
    }
}
