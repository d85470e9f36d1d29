// Request bodies: FormURLEncoded.parse, MultipartForm.parse and RequestData.decode.
// Input: "<Content-Type>\n<body>" when a newline comes within the first 256 bytes,
// otherwise the whole input is the body of a multipart request with boundary "b".
import DurinHTTP

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var contentType = "multipart/form-data; boundary=b"
    var body = input[...]
    if let newline = input.prefix(256).firstIndex(of: 0x0A) {
        contentType = String(decoding: input[..<newline], as: UTF8.self)
        body = input[(newline + 1)...]
    }
    let bytes = Array(body)

    let form = FormURLEncoded.parse(bytes)
    _ = try? MultipartForm.parse(bytes, contentType: contentType)
    _ = try? RequestData.decode(contentType: contentType, body: bytes)
    _ = try? RequestData.decode(contentType: nil, body: bytes)
    if let data = try? RequestData.decode(contentType: "application/json", body: bytes) {
        _ = data["username"]
    }
    // The form parser as RequestData uses it: same fields, as strings.
    if !bytes.isEmpty {
        let data = try? RequestData.decode(contentType: "application/x-www-form-urlencoded; charset=utf-8", body: bytes)
        precondition(data == .fields(form.mapValues { .string($0) }), "decode and FormURLEncoded.parse disagree")
    }
    // The login fields go through CharField.
    for value in form.values {
        _ = CharField.validate(.string(value), trimWhitespace: true)
        _ = CharField.validate(.string(value), trimWhitespace: false)
    }
    return 0
}
