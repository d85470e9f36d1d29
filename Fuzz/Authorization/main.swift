// AuthorizationHeader.parse on arbitrary header bytes, with durin's default scheme and
// with Token and Bearer together; and IssuerCredentials.parse (introspect/, revoke/),
// whose Basic form decodes base64 and percent-escapes.
import DurinHTTP

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for schemes in [["Token"], ["Token", "Bearer"]] {
        guard case .token(let token)? = try? AuthorizationHeader.parse(bytes, schemes: schemes) else { continue }
        // A token is one non-empty word: no ASCII white space, valid UTF-8.
        precondition(!token.isEmpty, "empty token")
        precondition(!token.utf8.contains { $0 == 0x20 || (0x09...0x0D).contains($0) }, "token contains white space")
    }
    _ = try? AuthorizationHeader.parse(nil, schemes: ["Token"])
    switch IssuerCredentials.parse(authorization: bytes, form: .empty) {
    case .key(let key): precondition(!key.isEmpty, "empty key")
    case .named(let name, let key): precondition(!name.isEmpty && !key.isEmpty, "empty name or key")
    case .none: break
    }
    return 0
}
