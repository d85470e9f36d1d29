// JSONParser.parse on arbitrary bytes; whatever parses must render, and the
// rendering must parse back to the same value and render to the same bytes.
import DurinHTTP

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let value: JSONValue
    do { value = try JSONParser.parse(bytes) } catch { return 0 }

    let rendered = value.renderedBytes
    precondition(Array(value.rendered.utf8) == rendered, "rendered and renderedBytes differ")
    let again: JSONValue
    do { again = try JSONParser.parse(rendered) } catch {
        fatalError("the rendering of a parsed value does not parse: \(error.message)")
    }
    precondition(again == value, "parse(render(v)) != v")
    precondition(again.renderedBytes == rendered, "rendering is not stable")

    // What the routes do with a parsed body.
    _ = value.pythonTypeName
    if case .object(let members) = value {
        for (key, member) in members {
            precondition(value[key] != nil, "a member cannot be looked up by its key")
            _ = CharField.validate(member, trimWhitespace: true)
        }
    }
    return 0
}
