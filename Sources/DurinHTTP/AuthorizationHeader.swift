package enum AuthorizationHeader {
    /// - Parameters:
    ///   - raw: the header's bytes as nginx passed them (`HTTP_AUTHORIZATION`).
    ///   - schemes: `DURIN_AUTH_HEADER_PREFIX`'s words (`Token`, or `Token Bearer`),
    ///     each matched case-insensitively. A header of another scheme is no
    ///     credentials at all, as durin treats another keyword.
    package static func parse(_ raw: [UInt8]?, schemes: [String]) throws(APIError) -> Credentials {
        guard let raw else { return .none }
        // Python's bytes.split() (on space, \t, \n, \r, \x0b, \x0c), without making
        // the words: only the first two are needed, and whether there is a third.
        // Every check parses one header, so nothing here allocates but the token.
        var words = 0
        var scheme = 0..<0
        var credentials = 0..<0
        var i = 0
        while i < raw.count && words < 3 {
            while i < raw.count && isSeparator(raw[i]) { i += 1 }
            guard i < raw.count else { break }
            let start = i
            while i < raw.count && !isSeparator(raw[i]) { i += 1 }
            words += 1
            if words == 1 { scheme = start..<i } else if words == 2 { credentials = start..<i }
        }
        guard words > 0, schemes.contains(where: { equalsIgnoringASCIICase(raw[scheme], $0) }) else { return .none }
        if words == 1 { throw .invalidHeaderNoCredentials }
        if words > 2 { throw .invalidHeaderSpaces }
        // durin crashes (500) on a token that is not UTF-8; no such token exists.
        guard let token = String(validating: raw[credentials], as: UTF8.self) else { throw .invalidToken }
        return .token(token)
    }

    private static func isSeparator(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }

    private static func equalsIgnoringASCIICase(_ bytes: ArraySlice<UInt8>, _ word: String) -> Bool {
        func lowered(_ b: UInt8) -> UInt8 { (0x41...0x5A).contains(b) ? b + 0x20 : b }
        return bytes.count == word.utf8.count && zip(bytes, word.utf8).allSatisfy { lowered($0) == lowered($1) }
    }

    /// One scheme (`Issuer`, durin's own `Token`).
    package static func parse(_ raw: [UInt8]?, prefix: String) throws(APIError) -> Credentials {
        try parse(raw, schemes: [prefix])
    }

}
