import Codecs
import DurinCore
import DurinHTTP
import DurinStore

/// users/ and users/<name>/: an application manages the users it signs up, with an
/// issuer key given the `users` right (`Authorization: Issuer <key>`, or Basic with
/// the issuer's name). This is how a site that moved from Django keeps durin in
/// step: a password changed or an account closed there reaches durin at once.
///
/// Staff reach the console, so a key without the `staff` right can neither make a
/// user staff nor touch one who is (not even their password): a `users` key never
/// becomes a console administrator. Every change is an event naming the issuer.
/// Run on a hasher: a password sent in the clear is hashed here.
extension API {
    /// POST users/: `username`, then `password` (checked by the password policy) or
    /// `password_hash` (an existing Django `pbkdf2_sha256` hash, kept as it is) or
    /// neither (unusable until one is set); `is_active`, `is_staff`; any other member
    /// is a profile field (a string). 201 with the user.
    func createUser(_ context: RequestContext, _ issuer: IssuerRecord) throws -> HTTPResponse {
        let data = try Self.fields(context.request)
        var errors: [APIError.FieldError] = []
        var username = ""
        switch CharField.validate(data["username"], trimWhitespace: true) {
        case .success(let v):
            username = v
            if !Names.isValidUsername(v) {
                errors.append(
                    .init(
                        field: "username",
                        messages: ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]))
            }
        case .failure(let m): errors.append(.init(field: "username", messages: [m.text]))
        }
        let change = try userChange(data, errors: &errors, creating: true)
        if !errors.isEmpty { throw APIError.fieldErrors(errors) }
        if change.staff == true { try require(.staff, of: issuer, context) }
        var user = UserRecord(
            username: username, passwordHash: "!", isActive: change.active ?? true, isStaff: change.staff ?? false,
            profile: change.profile.compactMapValues { $0 })
        user.passwordHash = try hash(for: change, user: user)
        do {
            try admin.addUser(user)
        } catch {
            if case .exists = error {
                throw APIError.fieldErrors([.init(field: "username", messages: ["A user with that username already exists."])])
            }
            throw error
        }
        try admin.recordEvent(kind: "user_created", user: username, client: "", reason: "", issuer: issuer.name)
        context.logger.info("user created", metadata: ["user": .string(username), "issuer": .string(issuer.name)])
        return .json(201, Self.accountJSON(user))
    }

    /// GET, PATCH and DELETE users/<name>/.
    func userRoute(_ context: RequestContext, _ issuer: IssuerRecord) throws -> HTTPResponse {
        let name = String(decoding: PercentEncoding.decode(Array((context.route?.parameter ?? "").utf8), plusIsSpace: false), as: UTF8.self)
        guard Names.isValidUsername(name), var user = try admin.user(named: name) else { throw APIError.notFound }
        user.passwordHash = try admin.passwordHash(of: name) ?? "!"
        if user.isStaff { try require(.staff, of: issuer, context) }
        switch context.request.method.uppercased() {
        case "PATCH": return try updateUser(context, user, issuer)
        case "DELETE":
            // A user removed meanwhile is 404, as the dispatcher answers AdminStore's notFound.
            let revoked = try admin.removeUser(name)
            try admin.recordEvent(kind: "user_removed", user: name, client: "", reason: "\(revoked) tokens", issuer: issuer.name)
            context.logger.info("user removed", metadata: ["user": .string(name), "issuer": .string(issuer.name)])
            return HTTPResponse(status: 204)
        default: return .json(200, Self.accountJSON(user))
        }
    }

    /// PATCH: only the members sent change. `password` or `password_hash` sets the
    /// password (`"revoke_sessions": true` also revokes every token of the user);
    /// `is_active: false` refuses the user's logins and tokens; a profile field
    /// set to null is removed.
    private func updateUser(_ context: RequestContext, _ user: UserRecord, _ issuer: IssuerRecord) throws -> HTTPResponse {
        let data = try Self.fields(context.request)
        var errors: [APIError.FieldError] = []
        if data["username"] != nil { errors.append(.init(field: "username", messages: ["A username cannot be changed."])) }
        let change = try userChange(data, errors: &errors, creating: false)
        if !errors.isEmpty { throw APIError.fieldErrors(errors) }
        if change.staff != nil { try require(.staff, of: issuer, context) }
        let name = user.username
        var updated = user
        for (field, value) in change.profile { updated.profile[field] = value }
        let newHash = change.password != nil || change.passwordHash != nil ? try hash(for: change, user: updated) : nil
        // Each step is atomic on its own; a user removed meanwhile is 404 (the
        // dispatcher's answer to AdminStore's notFound).
        if let hash = newHash {
            updated.passwordHash = hash
            updated.mustChangePassword = false
            try admin.changePassword(name, hash: hash, revokeOthers: change.revokeSessions, event: "password_set", by: issuer.name)
        }
        if let active = change.active, active != user.isActive {
            try admin.setActive(name, active)
            try admin.recordEvent(kind: "user_changed", user: name, client: "", reason: "is_active=\(active)", issuer: issuer.name)
            updated.isActive = active
        }
        if let staff = change.staff, staff != user.isStaff {
            try admin.setStaff(name, staff)
            try admin.recordEvent(kind: "user_changed", user: name, client: "", reason: "is_staff=\(staff)", issuer: issuer.name)
            updated.isStaff = staff
        }
        if !change.profile.isEmpty {
            try admin.updateProfile(
                name, set: change.profile.compactMapValues { $0 }, remove: change.profile.filter { $0.value == nil }.map(\.key),
                by: issuer.name)
        }
        context.logger.info("user changed", metadata: ["user": .string(name), "issuer": .string(issuer.name)])
        return .json(200, Self.accountJSON(updated))
    }

    /// What a users/ body asks to change, each member absent (unchanged) or valid.
    struct UserChange {
        var password: String?
        var passwordHash: String?
        var active: Bool?
        var staff: Bool?
        var revokeSessions = false
        /// nil: remove the field.
        var profile: [String: String?] = [:]
    }

    /// The members of a users/ body, each invalid one a field error as DRF words it.
    func userChange(_ data: RequestData, errors: inout [APIError.FieldError], creating: Bool) throws(APIError) -> UserChange {
        guard case .fields(let members) = data else { return UserChange() }
        var change = UserChange()
        for (field, value) in members.sorted(by: { $0.key < $1.key }) {
            func fail(_ message: String) { errors.append(.init(field: field, messages: [message])) }
            func flag() -> Bool? {
                switch Self.boolean(value) {
                case .success(let b): return b
                case .failure(let m):
                    fail(m.text)
                    return nil
                }
            }
            switch field {
            case "username": continue
            case "password":
                switch CharField.validate(value, trimWhitespace: false) {
                case .success(let v): change.password = v
                case .failure(let m): fail(m.text)
                }
            case "password_hash":
                guard case .string(let hash) = value else {
                    fail("Not a valid string.")
                    continue
                }
                if hash.hasPrefix("!") {
                    change.passwordHash = "!"
                } else if let n = PasswordHasher.iterations(of: hash) {
                    if n > config.passwordIterationsMax {
                        fail("The hash names \(n) iterations, above DURIN_PASSWORD_ITERATIONS_MAX: set a password instead.")
                    } else {
                        change.passwordHash = hash
                    }
                } else {
                    fail("Expected a Django hash: pbkdf2_sha256$<iterations>$<salt>$<hash>, or ! for none.")
                }
            case "is_active": change.active = flag()
            case "is_staff": change.staff = flag()
            case "revoke_sessions": change.revokeSessions = flag() ?? false
            default:
                guard Names.isValidProfileField(field) else {
                    fail(
                        Names.reservedUserFields.contains(field)
                            ? "This field cannot be set." : "Not a profile field: lowercase letters, digits and _, at most 64.")
                    continue
                }
                switch value {
                case .null where !creating: change.profile[field] = .some(nil)
                case .string(let text):
                    guard text.utf8.count <= 1024, text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                        fail("At most 1024 bytes, and no control characters.")
                        continue
                    }
                    change.profile[field] = .some(text)
                default: fail("Not a valid string.")
                }
            }
        }
        if change.password != nil && change.passwordHash != nil {
            errors.append(.init(field: "non_field_errors", messages: ["Give password or password_hash, not both."]))
        }
        return change
    }

    /// The hash to store: a password sent in the clear passes the policy (its field
    /// errors named `password`) and is hashed at the configured iterations.
    func hash(for change: UserChange, user: UserRecord) throws -> String {
        if let hash = change.passwordHash { return hash }
        guard let password = change.password else { return user.passwordHash }
        return try newHash(password, for: user, field: "password")
    }

    /// A user as users/ shows one: never the hash, only whether there is a usable one.
    static func accountJSON(_ user: UserRecord) -> JSONValue {
        var members = RecordJSON.user(user)
        members.insert(("has_usable_password", .bool(PasswordHasher.isSupported(user.passwordHash))), at: 3)
        for (k, v) in user.profile.sorted(by: { $0.key < $1.key }) where k != "created" { members.append((k, .string(v))) }
        return .object(members)
    }
}
