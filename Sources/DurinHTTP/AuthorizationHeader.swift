package enum AuthorizationHeader {
    /// - Parameters:
    ///   - raw: the header's bytes as nginx passed them (`HTTP_AUTHORIZATION`).
    ///   - schemes: `DURIN_AUTH_HEADER_PREFIX`'s words (`Token`, or `Token Bearer`),
    ///     each matched case-insensitively. A header of another scheme is no
    ///     credentials at all, as durin treats another keyword.
    package static func parse(_ raw: [UInt8]?, schemes: [String]) throws(APIError) -> Credentials {
        guard let raw else { return .none }
        // Python's bytes.split(): space, \t, \n, \r, \x0b, \x0c.
        let parts = raw.split(whereSeparator: { $0 == 0x20 || (0x09...0x0D).contains($0) })
        guard let scheme = parts.first,
            schemes.contains(where: { asciiLowercased(scheme) == asciiLowercased(Array($0.utf8)[...]) })
        else {
            return .none
        }
        if parts.count == 1 { throw .invalidHeaderNoCredentials }
        if parts.count > 2 { throw .invalidHeaderSpaces }
        // durin crashes (500) on a token that is not UTF-8; no such token exists.
        guard let token = String(validating: parts[1], as: UTF8.self) else { throw .invalidToken }
        return .token(token)
    }

    /// One scheme (`Issuer`, durin's own `Token`).
    package static func parse(_ raw: [UInt8]?, prefix: String) throws(APIError) -> Credentials {
        try parse(raw, schemes: [prefix])
    }

    private static func asciiLowercased(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        bytes.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }
    }
}
