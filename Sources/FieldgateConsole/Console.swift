package import FieldgateCore
package import FieldgateModel
import Foundation
import HTTPTypes
package import Hummingbird
package import Logging

import struct Foundation.URLComponents
import struct NIOCore.ByteBuffer

/// What the console reads and changes: the same stores and pipeline as the admin API, and the configuration
/// it shows tenants from. Built by the HTTP application from its own dependencies.
package struct ConsoleDependencies: Sendable {
    /// Quarantine replay.
    package var pipeline: IngestPipeline
    /// The store the pipeline writes to, and the clock it reads.
    package var store: any EventStore
    package var clock: any WallClock
    /// Subscribers and the outbox, when the store keeps them.
    package var deliveries: (any DeliveryStore)?
    /// Ingest counts for the overview, when the store keeps them.
    package var counts: (any IngestCountStore)?
    /// This instance's counts not yet flushed to `counts`.
    package var tally: IngestTally?
    /// Nil closes the console: nobody can sign in.
    package var adminToken: String?
    package var configuration: GatewayConfiguration
    package var adapters: [any VendorAdapter]
    /// Where vendors reach the gateway; nil shows route URLs at the address the browser used.
    package var publicURL: PublicURL?
    /// The live stream for the events page (the admin API's `/v1/stream`, behind the session instead of the
    /// bearer token).
    package var liveStream: @Sendable (Request) async throws -> Response
    /// Tells the delivery engine that something became due.
    package var wakeDeliveries: @Sendable () -> Void
    package var logger: Logger

    package init(
        pipeline: IngestPipeline,
        store: any EventStore,
        clock: any WallClock,
        deliveries: (any DeliveryStore)?,
        counts: (any IngestCountStore)?,
        tally: IngestTally? = nil,
        adminToken: String?,
        configuration: GatewayConfiguration,
        adapters: [any VendorAdapter],
        publicURL: PublicURL? = nil,
        liveStream: @escaping @Sendable (Request) async throws -> Response,
        wakeDeliveries: @escaping @Sendable () -> Void = {},
        logger: Logger
    ) {
        self.pipeline = pipeline
        self.store = store
        self.clock = clock
        self.deliveries = deliveries
        self.counts = counts
        self.tally = tally
        self.adminToken = adminToken
        self.configuration = configuration
        self.adapters = adapters
        self.publicURL = publicURL
        self.liveStream = liveStream
        self.wakeDeliveries = wakeDeliveries
        self.logger = logger
    }
}

/// What the composition root decides about the console; the rest comes from the HTTP application.
package struct ConsoleOptions: Sendable {
    package var configuration: GatewayConfiguration
    package var adapters: [any VendorAdapter]
    /// Where vendors reach the gateway (`serve --public-url`); nil shows the address the browser used.
    package var publicURL: PublicURL?
    /// Where the ingest counts are kept (the event store, when it keeps them).
    package var counts: (any IngestCountStore)?

    package init(
        configuration: GatewayConfiguration,
        adapters: [any VendorAdapter],
        publicURL: PublicURL? = nil,
        counts: (any IngestCountStore)?
    ) {
        self.configuration = configuration
        self.adapters = adapters
        self.publicURL = publicURL
        self.counts = counts
    }
}

/// The operator console at `/console`: server-rendered pages with plain links and forms, one small script for
/// live updates, assets embedded in the binary.
package struct Console: Sendable {
    let dependencies: ConsoleDependencies
    let sessions: ConsoleSessions?

    package init(_ dependencies: ConsoleDependencies) {
        self.dependencies = dependencies
        sessions = dependencies.adminToken.map(ConsoleSessions.init(adminToken:))
    }

    /// Mounts every console route on `router`.
    package func register<Context: RequestContext>(on router: Router<Context>) {
        let group = router.group("console").add(middleware: ConsoleResponseMiddleware())
        router.get("console") { _, _ in Response.redirect(to: "/console/overview", type: .normal) }
        group.get("assets/:name") { _, context in try ConsoleAssets.response(try context.parameters.require("name")) }

        group.get("sign-in") { request, _ in try await signInPage(request) }
        group.post("sign-in") { request, _ in try await signIn(request) }
        group.post("sign-out") { request, _ in try await signOut(request) }

        group.get("overview") { request, _ in try await page(request) { try await overview($0) } }
        group.get("events") { request, _ in try await page(request) { try await events($0) } }
        group.get("events/:id") { request, context in
            let id = try context.parameters.require("id")
            return try await page(request) { try await event($0, id: id.consolePathDecoded) }
        }
        group.get("jobs") { request, _ in try await page(request) { try await jobs($0) } }
        group.get("jobs/:key") { request, context in
            let key = try context.parameters.require("key")
            return try await page(request) { try await job($0, key: key.consolePathDecoded) }
        }
        group.get("subscribers") { request, _ in try await page(request) { try await subscribers($0) } }
        group.get("subscribers/:id") { request, context in
            let id = try context.parameters.require("id")
            return try await page(request) { try await subscriber($0, id: id.consolePathDecoded) }
        }
        for change in SubscriberChange.allCases {
            group.post("subscribers/:id/\(change.rawValue)") { request, context in
                let id = try context.parameters.require("id")
                return try await action(request) { try await changeSubscriber($0, id: id.consolePathDecoded, change) }
            }
        }
        group.get("deliveries/:id") { request, context in
            let id = try context.parameters.require("id")
            return try await page(request) { try await delivery($0, id: id.consolePathDecoded) }
        }
        group.post("deliveries/:id/redeliver") { request, context in
            let id = try context.parameters.require("id")
            return try await action(request) { try await redeliver($0, id: id.consolePathDecoded) }
        }
        group.get("quarantine") { request, _ in try await page(request) { try await quarantine($0) } }
        group.post("quarantine/replay") { request, _ in
            try await action(request) { try await replay($0, ids: $0.form.values("id")) }
        }
        group.get("quarantine/:id") { request, context in
            let id = try context.parameters.require("id")
            return try await page(request) { try await quarantined($0, id: id.consolePathDecoded) }
        }
        group.post("quarantine/:id/replay") { request, context in
            let id = try context.parameters.require("id")
            return try await action(request) { try await replay($0, ids: [id.consolePathDecoded]) }
        }
        group.get("tenants") { request, _ in try await page(request) { try await tenants($0) } }
        group.get("stream") { request, _ in
            guard authenticatedSession(request) != nil else {
                return Response(status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8"])
            }
            var response = try await dependencies.liveStream(request)
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }

    // MARK: Sessions on every request

    /// The request's session, if its cookie verifies.
    func authenticatedSession(_ request: Request) -> ConsoleSession? {
        guard let sessions, let cookie = request.cookies[ConsoleSessions.cookieName]?.value else { return nil }
        return sessions.verify(cookie, at: dependencies.clock.now())
    }

    /// A page behind the session: without one, the browser goes to the sign-in page and comes back after it.
    func page(
        _ request: Request,
        _ render: (ConsoleRequest) async throws -> Response
    ) async throws -> Response {
        guard let sessions, let session = authenticatedSession(request) else {
            let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            return .redirect(to: ConsoleLink("sign-in", query: [("next", next)]).text, type: .found)
        }
        return try await render(
            ConsoleRequest(
                request: request,
                session: session,
                csrf: sessions.csrfToken(for: session),
                form: FormFields()
            )
        )
    }

    /// A form post behind the session and its CSRF token; a post from another site is refused before either is
    /// looked at.
    func action(
        _ request: Request,
        _ perform: (ConsoleRequest) async throws -> Response
    ) async throws -> Response {
        try Self.checkSameOrigin(request)
        guard let sessions, let session = authenticatedSession(request) else {
            throw ConsoleFailure(status: .forbidden, "Your session has ended. Sign in again and repeat the action.")
        }
        let form = try await FormFields.read(request)
        guard sessions.acceptsCSRFToken(form.value("csrf"), for: session) else {
            throw ConsoleFailure(
                status: .forbidden,
                "The form's CSRF token is missing or not this session's. Reload the page and try again."
            )
        }
        return try await perform(
            ConsoleRequest(request: request, session: session, csrf: sessions.csrfToken(for: session), form: form)
        )
    }

    /// A browser says where a form post comes from (`Sec-Fetch-Site`, `Origin`); anything but this origin is
    /// refused. SameSite=Strict and the CSRF token already stop cross-site posts; this stops them first.
    static func checkSameOrigin(_ request: Request) throws {
        if let site = request.headers[.secFetchSite], site != "same-origin" {
            throw ConsoleFailure(status: .forbidden, "A console form can only be sent from the console itself.")
        }
        if let origin = request.headers[.origin] {
            let host = request.head.authority ?? ""
            guard origin == "http://\(host)" || origin == "https://\(host)" else {
                throw ConsoleFailure(status: .forbidden, "A console form can only be sent from the console itself.")
            }
        }
    }

    // MARK: Store calls

    /// Runs a store operation for a page: a store that fails is a 503 page, not a crash or a blank.
    func stored<T>(_ operation: () async throws -> T) async throws -> T {
        do {
            return try await operation()
        } catch let failure as ConsoleFailure {
            throw failure
        } catch {
            throw ConsoleFailure(
                status: .serviceUnavailable,
                "The event store did not answer: \(error). The page shows again once it does."
            )
        }
    }

    func requireDeliveries() throws -> any DeliveryStore {
        guard let deliveries = dependencies.deliveries else {
            throw ConsoleFailure(status: .notFound, "This gateway's store keeps no subscribers.")
        }
        return deliveries
    }
}

/// A request that passed the session check, with what every page needs.
struct ConsoleRequest: Sendable {
    var request: Request
    var session: ConsoleSession
    /// The value of every form's `csrf` field.
    var csrf: String
    /// The posted form, for actions.
    var form: FormFields

    /// The query string, read strictly enough for filters: first value wins, empty means unset.
    var query: FormFields {
        FormFields(urlEncoded: request.uri.query ?? "")
    }
}

/// A page that cannot be shown, and why; rendered as an HTML page with this status.
struct ConsoleFailure: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String

    init(status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// `application/x-www-form-urlencoded` fields (a posted form or a query string), in order.
struct FormFields: Sendable {
    private(set) var fields: [(name: String, value: String)] = []

    init() {}

    init(urlEncoded text: String) {
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            fields.append((name, value))
        }
    }

    /// The body of a console form (at most 64 KiB: a replay of many requests is a list of IDs).
    static func read(_ request: Request) async throws -> FormFields {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: 64 * 1024)
        } catch {
            throw ConsoleFailure(status: .contentTooLarge, "The form is larger than 64 KiB.")
        }
        return FormFields(urlEncoded: String(decoding: buffer.readableBytesView, as: UTF8.self))
    }

    /// The first non-empty value of `name`.
    func value(_ name: String) -> String? {
        fields.first { $0.name == name && !$0.value.isEmpty }?.value
    }

    func values(_ name: String) -> [String] {
        fields.filter { $0.name == name && !$0.value.isEmpty }.map(\.value)
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacing("+", with: " ")
        return spaced.removingPercentEncoding ?? String(spaced)
    }
}

extension String {
    /// A path parameter as the console's links encode it (every reserved character percent-encoded).
    var consolePathDecoded: String {
        contains("%") ? (removingPercentEncoding ?? self) : self
    }
}

extension HTTPField.Name {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
}
