import FieldgateConsole
import FieldgateCore
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

import struct NIOCore.ByteBuffer

@testable import FieldgateHTTP

/// The console through the router: sessions, CSRF, escaping, headers and that nothing is shown without a session.
@Suite("Operator console")
struct ConsoleTests {
    static let pages = [
        "/console/overview", "/console/events", "/console/events/0123", "/console/jobs", "/console/jobs/x",
        "/console/subscribers", "/console/subscribers/x", "/console/deliveries/1", "/console/quarantine",
        "/console/quarantine/q", "/console/tenants",
    ]
    static let actions = [
        "/console/subscribers/x/enable", "/console/subscribers/x/disable", "/console/subscribers/x/recover",
        "/console/deliveries/1/redeliver", "/console/quarantine/q/replay", "/console/quarantine/replay",
    ]

    func withConsole(
        adminToken: String = GatewayHarness.adminToken,
        _ body: @Sendable (GatewayHarness, any TestClientProtocol) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("console.db"),
            adminToken: adminToken
        )
        try await Self.application(harness).test(.router) { client in try await body(harness, client) }
    }

    static func application(_ harness: GatewayHarness) throws -> some ApplicationProtocol {
        var dependencies = harness.dependencies
        dependencies.console = ConsoleOptions(
            configuration: try GatewayConfiguration.parse(yaml: adminTestConfiguration),
            adapters: GatewayHarness.adapters,
            counts: harness.store
        )
        return buildApplication(
            dependencies,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0))
        )
    }

    // MARK: Nothing without a session

    @Test func everyPageWithoutASessionGoesToSignIn() async throws {
        try await withConsole { _, client in
            for page in Self.pages {
                let response = try await client.execute(uri: page, method: .get)
                #expect(response.status == .found, "\(page)")
                let location = try #require(response.headers[.location])
                #expect(location.hasPrefix("/console/sign-in?next="), "\(page)")
                #expect(!response.text.contains("<table"), "\(page)")
            }
            let stream = try await client.execute(uri: "/console/stream", method: .get)
            #expect(stream.status == .unauthorized)
            for action in Self.actions {
                let response = try await client.execute(
                    uri: action,
                    method: .post,
                    headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "csrf=x&id=q")
                )
                #expect(response.status == .forbidden, "\(action)")
            }
        }
    }

    @Test func aForgedTamperedOrExpiredCookieIsNoSession() async throws {
        try await withConsole { harness, client in
            let cookie = try await signIn(client)
            #expect(try await client.page("/console/overview", cookie: cookie).status == .ok)
            let parts = cookie.split(separator: ".").map(String.init)
            let tampered = ([parts[0], parts[1], String(Int64(parts[2])! + 1_000_000)] + parts[3...]).joined(
                separator: "."
            )
            for bad in [tampered, cookie + "x", "v1.1.2.3.4", "", String(cookie.dropLast(2))] {
                #expect(try await client.page("/console/overview", cookie: bad).status == .found, "\(bad)")
            }
            harness.clock.advance(by: .seconds(12 * 3600 + 1))
            #expect(try await client.page("/console/overview", cookie: cookie).status == .found)
        }
    }

    @Test func aSessionHoldsOnEveryInstanceWithTheSameAdminTokenOnly() async throws {
        let cookie = try await signInOnce(adminToken: GatewayHarness.adminToken)
        // Another instance: its own process state, the same admin token.
        try await withConsole { _, client in
            let response = try await client.page("/console/overview", cookie: cookie)
            #expect(response.status == .ok)
        }
        try await withConsole(adminToken: "another-token") { _, client in
            let response = try await client.page("/console/overview", cookie: cookie)
            #expect(response.status == .found)
        }
    }

    func signInOnce(adminToken: String) async throws -> String {
        let box = Box()
        try await withConsole(adminToken: adminToken) { _, client in box.value = try await signIn(client) }
        return box.value
    }

    final class Box: @unchecked Sendable { var value = "" }

    // MARK: Sign in and out

    @Test func signingInSetsAStrictHttpOnlyCookieAndSigningOutClearsIt() async throws {
        try await withConsole { _, client in
            let refused = try await client.form("/console/sign-in", "token=wrong")
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.setCookie] == nil)
            #expect(refused.text.contains("That is not the admin token."))

            let response = try await client.form(
                "/console/sign-in",
                "token=\(GatewayHarness.adminToken)&next=%2Fconsole%2Fjobs%3Fstatus%3Dclosed"
            )
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/console/jobs?status=closed")
            let header = try #require(response.headers[.setCookie])
            for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=43200"] {
                #expect(header.contains(attribute), "\(attribute)")
            }
            #expect(!header.contains("Secure"))
            let cookie = try Self.cookieValue(header)
            let csrf = try await csrfToken(client, cookie: cookie)
            let out = try await client.form("/console/sign-out", "csrf=\(csrf)", cookie: cookie)
            #expect(out.status == .seeOther)
            #expect(out.headers[.setCookie]?.contains("fieldgate_session=;") == true)
            #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)

            let secure = try await client.form(
                "/console/sign-in",
                "token=\(GatewayHarness.adminToken)",
                headers: [HTTPField.Name("X-Forwarded-Proto")!: "https"]
            )
            #expect(secure.headers[.setCookie]?.contains("; Secure") == true)
        }
    }

    @Test(arguments: ["//evil.example/", "https://evil.example/", "/\\evil.example", "/console/sign-in", "/elsewhere"])
    func signingInNeverRedirectsOutOfTheConsole(_ next: String) async throws {
        try await withConsole { _, client in
            let encoded = next.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let response = try await client.form(
                "/console/sign-in",
                "token=\(GatewayHarness.adminToken)&next=\(encoded)"
            )
            #expect(response.headers[.location] == "/console/overview")
        }
    }

    @Test func withoutAnAdminTokenNobodySignsIn() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("closed.db"),
            adminToken: nil
        )
        try await Self.application(harness).test(.router) { client in
            let response = try await client.form("/console/sign-in", "token=")
            #expect(response.headers[.setCookie] == nil)
            #expect(response.text.contains("The console is closed"))
            #expect(try await client.page("/console/overview", cookie: "v1.1.2.3.4").status == .found)
        }
    }

    // MARK: CSRF and origin

    @Test func everyActionNeedsThisSessionsCSRFTokenAndThisOrigin() async throws {
        try await withConsole { _, client in
            let cookie = try await signIn(client)
            let other = try await signIn(client)
            let csrf = try await csrfToken(client, cookie: cookie)
            let otherCSRF = try await csrfToken(client, cookie: other)
            #expect(csrf != otherCSRF)
            for action in Self.actions {
                for body in ["", "csrf=", "csrf=\(otherCSRF)", "csrf=\(csrf)x", "csrf=AAAA"] {
                    let response = try await client.form(action, body + "&id=q", cookie: cookie)
                    #expect(response.status == .forbidden, "\(action) \(body)")
                    #expect(response.text.contains("CSRF"), "\(action)")
                }
                for headers: HTTPFields in [
                    [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"], [.origin: "http://evil.example"],
                ] {
                    let response = try await client.form(action, "csrf=\(csrf)&id=q", cookie: cookie, headers: headers)
                    #expect(response.status == .forbidden, "\(action) \(headers)")
                }
            }
            // With the token, the action runs (here: a quarantined request that does not exist).
            let replay = try await client.form("/console/quarantine/replay", "csrf=\(csrf)&id=q_none", cookie: cookie)
            #expect(replay.status == .ok)
            #expect(replay.text.contains("no such quarantined request"))
        }
    }

    // MARK: Hostile data

    @Test func vendorTextIsEscapedOnEveryPage() async throws {
        try await withConsole { harness, client in
            let note = #"<img src=x onerror=alert(1)> & <script>alert("x")</script> 'q'"#
            let noteBody =
                #"{"event":"work order note added","workorder_id":"W<1>","data":{"note":\#(JSONValue.string(note).jsonText)}}"#
            let siteBody = #"{"event":"site created","data":{"site_id":"s1","site_name":"<script>alert(2)</script>"}}"#
            var ids: [String] = []
            for body in [noteBody, siteBody] {
                let response = try await client.execute(
                    uri: "/webhooks/techlink/cobalt-pos",
                    method: .post,
                    headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: body)
                )
                #expect(response.status == .accepted)
                ids.append(try #require(try response.json["id"]?.stringValue))
            }
            let cookie = try await signIn(client)
            for page in [
                "/console/events", "/console/events/\(ids[0])", "/console/events/\(ids[1])",
                "/console/jobs/techlink%3Acobalt-pos%3AW%3C1%3E", "/console/jobs",
            ] {
                let response = try await client.page(page, cookie: cookie)
                #expect(response.status == .ok, "\(page)")
                let text = response.text
                #expect(!text.contains("<img src=x"), "\(page)")
                #expect(!text.contains("<script>alert"), "\(page)")
                #expect(!text.contains("W<1>"), "\(page)")
                if page != "/console/jobs", page != "/console/events/\(ids[1])" {
                    #expect(text.contains("W&lt;1&gt;"), "\(page)")
                }
            }
            let events = try await client.page("/console/events", cookie: cookie).text
            #expect(events.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &lt;script&gt;alert(&quot;x&quot;)"))
            #expect(events.contains("&lt;script&gt;alert(2)&lt;/script&gt;"))
            #expect(events.contains("&#39;q&#39;"))
            _ = harness
        }
    }

    @Test func theWriterEscapesEverythingThatIsNotALiteral() {
        #expect(
            HTMLEscapingProbe.escaped(#"<a href="x">'&'</a>"#)
                == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        )
        #expect(HTMLEscapingProbe.escaped("nul\u{0}bell\u{7}\ttab") == "nul\u{FFFD}bell\u{FFFD}\ttab")
        #expect(
            HTMLEscapingProbe.link(["a/b", "x?y#z"], query: [("q", "1&2=3"), ("empty", "")])
                == "/console/a%2Fb/x%3Fy%23z?q=1%262%3D3"
        )
    }

    // MARK: Headers

    @Test func everyConsoleResponseCarriesTheSecurityHeaders() async throws {
        try await withConsole { _, client in
            let cookie = try await signIn(client)
            var responses = [
                try await client.execute(uri: "/console/sign-in", method: .get),
                try await client.execute(uri: "/console/overview", method: .get),
                try await client.page("/console/overview", cookie: cookie),
                try await client.page("/console/events/nope", cookie: cookie),
            ]
            responses.append(try await client.execute(uri: "/console/assets/console.js", method: .get))
            for response in responses {
                let policy = try #require(response.headers[.contentSecurityPolicy])
                #expect(policy.contains("default-src 'none'"))
                #expect(policy.contains("script-src 'self'"))
                #expect(!policy.contains("unsafe-inline"))
                #expect(policy.contains("frame-ancestors 'none'"))
                #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "same-origin")
            }
            #expect(responses[2].headers[.cacheControl] == "no-store")
            #expect(responses[3].status == .notFound)
            #expect(responses[3].headers[.contentType] == "text/html; charset=utf-8")
        }
    }

    @Test func pagesHaveTitlesHeadingsAndNoInlineScriptOrStyle() async throws {
        try await withConsole { _, client in
            _ = try await client.send(statusChange("55", from: "10", to: "22"))
            let cookie = try await signIn(client)
            for page in [
                "/console/overview", "/console/events", "/console/jobs", "/console/jobs?status=dispatched",
                "/console/jobs/techlink%3Acobalt-pos%3A55", "/console/subscribers", "/console/quarantine",
                "/console/tenants",
            ] {
                let response = try await client.page(page, cookie: cookie)
                #expect(response.status == .ok, "\(page)")
                let text = response.text
                #expect(text.contains("<title>") && text.contains("<h1>"), "\(page)")
                #expect(!text.contains(" style="), "\(page)")
                #expect(!text.contains(" on") || !text.contains("onclick"), "\(page)")
                #expect(text.components(separatedBy: "<script").count == 2, "\(page): one script, the asset")
            }
        }
    }

    @Test func theAssetsAreEmbedded() async throws {
        try await withConsole { _, client in
            for (name, type) in [
                ("console.css", "text/css"), ("console.js", "text/javascript"), ("icon.svg", "image/svg+xml"),
            ] {
                let response = try await client.execute(uri: "/console/assets/\(name)", method: .get)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix(type) == true)
                #expect(response.body.readableBytes > 100)
            }
            #expect(try await client.execute(uri: "/console/assets/../x", method: .get).status != .ok)
        }
    }

    // MARK: Counts and actions

    @Test func theOverviewCountsDuplicatesAndRefusalsThatAreNotStored() async throws {
        try await withConsole { harness, client in
            _ = try await client.send(statusChange("61", from: "10", to: "22"))
            _ = try await client.send(statusChange("61", from: "10", to: "22"))
            _ = try await client.send(statusChange("62", from: "10", to: "22", tenant: "harbor-signs"))
            let refused = try await client.execute(
                uri: "/webhooks/techlink/harbor-signs",
                method: .post,
                headers: [.contentType: "application/json", HTTPField.Name("X-Token")!: "wrong"],
                body: ByteBuffer(string: "{}")
            )
            #expect(refused.status == .unauthorized)
            let tally = harness.dependencies.tally.pending()
            func count(_ tenant: String, _ outcome: IngestCount.Outcome) -> Int {
                tally.filter { $0.tenant == tenant && $0.outcome == outcome }.map(\.count).reduce(0, +)
            }
            #expect(count("cobalt-pos", .accepted) == 1)
            #expect(count("cobalt-pos", .duplicate) == 1)
            #expect(count("harbor-signs", .refused(status: 401)) == 1)
            // Flushed to the store, the numbers stay the same (and do not double).
            let flush = IngestCountFlush(
                tally: harness.dependencies.tally,
                store: harness.store,
                clock: harness.clock,
                logger: Logger(label: "test")
            )
            await flush.flush()
            #expect(harness.dependencies.tally.pending().isEmpty)
            let stored = try await harness.store.ingestCounts(sinceMinute: 0)
            #expect(stored.filter { $0.outcome == .duplicate }.map(\.count).reduce(0, +) == 1)
            let cookie = try await signIn(client)
            let overview = try await client.page("/console/overview", cookie: cookie).text
            #expect(overview.contains("1 / 1"))
            let tenants = try await client.page("/console/tenants", cookie: cookie).text
            #expect(tenants.contains("1 in the last hour, 1 in the last 24 hours"))
            #expect(tenants.contains("/webhooks/techlink/harbor-signs"))
            #expect(!tenants.contains("hs-token"))
        }
    }

    @Test func replayingFromTheConsoleShowsWhatItProduced() async throws {
        try await withConsole { harness, client in
            let response = try await client.execute(
                uri: "/webhooks/techlink/cobalt-pos",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"event":"work order exploded","workorder_id":"9"}"#)
            )
            #expect(response.status == .unprocessableContent)
            let quarantined = try #require(try await harness.store.quarantinedRequests(QuarantineQuery()).items.first)
            let cookie = try await signIn(client)
            let list = try await client.page("/console/quarantine", cookie: cookie).text
            #expect(list.contains(quarantined.id))
            let csrf = try await csrfToken(client, cookie: cookie)
            let result = try await client.form(
                "/console/quarantine/\(quarantined.id)/replay",
                "csrf=\(csrf)",
                cookie: cookie
            )
            #expect(result.status == .ok)
            #expect(result.text.contains("still refused: 422"))
        }
    }

    // MARK: Helpers

    func signIn(_ client: any TestClientProtocol) async throws -> String {
        let response = try await client.form("/console/sign-in", "token=\(GatewayHarness.adminToken)")
        #expect(response.status == .seeOther)
        return try Self.cookieValue(try #require(response.headers[.setCookie]))
    }

    func csrfToken(_ client: any TestClientProtocol, cookie: String) async throws -> String {
        let page = try await client.page("/console/quarantine", cookie: cookie).text
        let marker = #"name="csrf" value=""#
        let start = try #require(page.range(of: marker)).upperBound
        return String(page[start...].prefix { $0 != "\"" })
    }

    static func cookieValue(_ header: String) throws -> String {
        let pair = try #require(header.split(separator: ";").first)
        return String(pair.dropFirst("fieldgate_session=".count))
    }
}

extension TestClientProtocol {
    func page(_ uri: String, cookie: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .get, headers: [.cookie: "fieldgate_session=\(cookie)"])
    }

    /// A form post as a browser on the console's own page sends it.
    func form(
        _ uri: String,
        _ body: String,
        cookie: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let cookie { headers[.cookie] = "fieldgate_session=\(cookie)" }
        for field in extra { headers[field.name] = field.value }
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }
}
