// AuthorizationHeader.parse on arbitrary header bytes, with durin's default prefix.
import DurinHTTP

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for prefix in ["Token", "Bearer"] {
        guard case .token(let token)? = try? AuthorizationHeader.parse(bytes, prefix: prefix) else { continue }
        // A token is one non-empty word: no ASCII white space, valid UTF-8.
        precondition(!token.isEmpty, "empty token")
        precondition(!token.utf8.contains { $0 == 0x20 || (0x09...0x0D).contains($0) }, "token contains white space")
    }
    _ = try? AuthorizationHeader.parse(nil, prefix: "Token")
    return 0
}
