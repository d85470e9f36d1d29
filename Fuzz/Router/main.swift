// Router.match on arbitrary PATH_INFO strings, in both groups' locations.
import DurinConsole
import DurinServer

let router = Router(groups: [API.routes, Console.routes])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for location in [RouteGroup.Location.api, .console] {
        let route = router.match(path, in: location)
        // Leading slashes never matter.
        precondition(router.match("/" + path, in: location)?.index == route?.index, "a leading slash changes the route")
        guard let route else { continue }
        precondition(route.group.location == location, "a route of another location's group")
        precondition(!route.spec.methods.isEmpty)
        precondition(router.routes[route.index].name == route.spec.name)
        for parameter in route.parameters {
            precondition(!parameter.isEmpty && !parameter.contains("/"), "parameter \(parameter.debugDescription)")
        }
        if location == .api && !route.parameters.isEmpty {
            precondition(
                ["session", "signin_asset", "user"].contains(route.spec.name),
                "only sessions/<id>/, signin/<file> and users/<name>/ have a parameter")
        }
    }
    return 0
}
