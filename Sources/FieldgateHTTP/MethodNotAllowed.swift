import FieldgateCore
import HTTPTypes
import Hummingbird

/// The methods each route of a router answers, for `405 Method Not Allowed` with `Allow` (RFC 9110 §15.5.6).
///
/// Hummingbird answers a known path with an unknown method as it answers an unknown path: 404. The table is built
/// once from the router's own route list, so every route answers 405 for every method it does not declare without
/// a handler per route, and a route added later is covered by the same rule.
struct AllowedMethods: Sendable {
    struct Route: Sendable {
        var components: [RouterPath.Element]
        var methods: [HTTPRequest.Method]
    }

    private(set) var routes: [Route] = []

    /// Every route of `router` as registered so far; a path that answers GET answers HEAD too (the router
    /// generates HEAD from GET).
    init<Context>(_ router: Router<Context>) {
        var byPath: [String: Route] = [:]
        var order: [String] = []
        for route in router.routes {
            let key = route.path.description
            if byPath[key] == nil {
                byPath[key] = Route(components: route.path.components, methods: [])
                order.append(key)
            }
            byPath[key]!.methods.append(route.method)
        }
        routes = order.map { key in
            var route = byPath[key]!
            if route.methods.contains(.get), !route.methods.contains(.head) { route.methods.append(.head) }
            route.methods.sort { Self.rank($0) < Self.rank($1) }
            return route
        }
    }

    /// The methods of the route `path` resolves to, or nil when no route matches it. Where several match, the most
    /// specific wins as the router's own lookup decides it: a literal segment before a parameter or a wildcard.
    func methods(forPath path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var best: (specificity: [Int], methods: [HTTPRequest.Method])?
        for route in routes {
            guard let specificity = Self.specificity(of: route.components, matching: segments) else { continue }
            if let current = best, !current.specificity.lexicographicallyPrecedes(specificity) { continue }
            best = (specificity, route.methods)
        }
        return best?.methods
    }

    /// One rank per segment (2 for a literal, 1 for a parameter or wildcard) when the route matches, else nil.
    static func specificity(of components: [RouterPath.Element], matching segments: [Substring]) -> [Int]? {
        var ranks: [Int] = []
        for (position, element) in components.enumerated() {
            if element == RouterPath.Element.recursiveWildcard {
                return position < segments.count ? ranks + [0] : nil
            }
            guard position < segments.count, element ~= segments[position] else { return nil }
            ranks.append(element == segments[position] ? 2 : 1)
        }
        return ranks.count == segments.count ? ranks : nil
    }

    /// The order methods are listed in `Allow`: safe ones first, as RFC 9110 lists them.
    static func rank(_ method: HTTPRequest.Method) -> Int {
        let order: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]
        return order.firstIndex(of: method) ?? order.count
    }

    static func allowHeader(_ methods: [HTTPRequest.Method]) -> String {
        methods.map(\.rawValue).joined(separator: ", ")
    }
}

/// Turns the router's "no route" into `405 method-not-allowed` with `Allow` when the path is a route under other
/// methods; unknown paths stay 404.
///
/// Added to the router after every route, so it is part of the router's not-found chain only: a request that a
/// route answered never reaches it.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowed: AllowedMethods

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let methods = allowed.methods(forPath: request.uri.path), !methods.contains(request.method) else {
                throw error
            }
            let allow = AllowedMethods.allowHeader(methods)
            var response = Problem(
                .methodNotAllowed,
                "\(request.uri.path) answers \(allow), not \(request.method.rawValue)"
            )
            .response
            response.headers[.allow] = allow
            return response
        }
    }
}
