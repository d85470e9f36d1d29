import Codecs

/// How an issuer presents its key to introspect/ and revoke/ (RFC 7662 §2.1 asks
/// the endpoint to authenticate its callers, against token scanning):
///
/// - durin's own header, `Authorization: Issuer <key>`, as issue/ takes it;
/// - OAuth client authentication (RFC 6749 §2.3.1), with the issuer's name as
///   `client_id` and its key as the secret: `Authorization: Basic` (what
///   mod_auth_openidc and most introspecting gateways send), or the form fields
///   `client_id` and `client_secret`.
package enum IssuerCredentials: Equatable, Sendable {
    /// A key alone (the Issuer scheme): the key names its issuer.
    case key(String)
    /// A name and a key: the key must be that issuer's.
    case named(String, key: String)
    /// Nothing, or a malformed header: 401 `invalid_client` either way.
    case none

    /// - Parameters:
    ///   - authorization: the raw `Authorization` header, if any.
    ///   - form: the body's fields, for `client_id` and `client_secret`.
    package static func parse(authorization: [UInt8]?, form: RequestData) -> IssuerCredentials {
        if let authorization {
            let parts = authorization.split(whereSeparator: { $0 == 0x20 || (0x09...0x0D).contains($0) })
            guard parts.count == 2 else { return .none }
            switch String(decoding: parts[0], as: UTF8.self).lowercased() {
            case "issuer":
                return .key(String(decoding: parts[1], as: UTF8.self))
            case "basic":
                // base64(urlencode(id) ":" urlencode(secret)), RFC 6749 §2.3.1.
                guard let decoded = Base64.decode(String(decoding: parts[1], as: UTF8.self)),
                    let colon = decoded.firstIndex(of: UInt8(ascii: ":"))
                else { return .none }
                let name = PercentEncoding.decode(decoded[..<colon], plusIsSpace: true)
                let key = PercentEncoding.decode(decoded[(colon + 1)...], plusIsSpace: true)
                guard !name.isEmpty, !key.isEmpty else { return .none }
                return .named(String(decoding: name, as: UTF8.self), key: String(decoding: key, as: UTF8.self))
            default:
                return .none
            }
        }
        if case .string(let name)? = form["client_id"], case .string(let key)? = form["client_secret"],
            !name.isEmpty, !key.isEmpty
        {
            return .named(name, key: key)
        }
        return .none
    }
}
