import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import FieldgateVendors
import Testing

/// `fieldgate vendor-setup` and `fieldgate check-config` through the real adapters: what they print must be valid,
/// complete and usable — the registrations carry the includes each route needs and a strong secret, and the
/// tenant entry they print is read by the gateway's own configuration reader and accepts what the vendor sends.
@Suite("Vendor setup")
struct VendorSetupTests {
    static let publicURL = try! PublicURL("https://hooks.example.com/")

    func report(
        _ vendor: String,
        tenant: String = "new-tenant",
        configuration: String? = nil,
        environment: [String: String] = [:]
    ) throws -> VendorSetupReport {
        let parsed = try configuration.map {
            try GatewayConfiguration.parse(yaml: $0, file: "fieldgate.yaml", environment: environment)
        }
        return try VendorSetupReport(
            vendor: vendor,
            tenant: tenant,
            publicURL: Self.publicURL,
            configuration: parsed,
            adapters: BuiltInVendors.adapters
        )
    }

    /// The printed JSON, parsed back: what a script reads.
    func json(_ report: VendorSetupReport) throws -> JSONValue {
        try JSONValue(parsing: Array(report.json.prettyText().utf8))
    }

    /// The printed tenant entry as the only tenant of a configuration, through the pipeline.
    func harness(for report: VendorSetupReport) throws -> PipelineHarness {
        let entry = try #require(report.setup.tenantEntry)
        let yaml = "tenants:\n" + entry.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        return try PipelineHarness(configurationYAML: yaml, adapters: BuiltInVendors.adapters)
    }

    func isStrongSecret(_ secret: String) -> Bool {
        guard let bytes = Base64URL.decode(secret) else { return false }
        return bytes.count >= GeneratedSecret.byteCount
    }

    // MARK: TrackTik

    @Test func trackTikHasOneSubscriptionPerRouteWithTheIncludesItNeeds() throws {
        let report = try report("tracktik")
        let bodies = try json(report)["steps"]?.arrayValue?.compactMap { $0["request"]?["body"] }.filter { !$0.isNull }
        let subscriptions = try #require(bodies)
        let onboarding = try #require(BuiltInVendors.adapter(for: "tracktik") as? any VendorOnboarding)
        #expect(subscriptions.count == onboarding.registeredRoutes.count)
        let logIncludes = ["status", "user", "workflowInstance", "workflowInstance.dispatchTask"]
        var routesSeen: [String] = []
        for body in subscriptions {
            let url = try #require(body["url"]?.stringValue)
            let prefix = "https://hooks.example.com/webhooks/tracktik/new-tenant/"
            #expect(url.hasPrefix(prefix), "\(url)")
            let route = String(url.dropFirst(prefix.count))
            routesSeen.append(route)
            let parts = route.split(separator: "/")
            #expect(body["events"] == .array([.string("entity:\(parts[0]):\(parts[1])")]), "\(route)")
            let include = body["entityResponse"]?["include"]?.arrayValue?.compactMap(\.stringValue) ?? []
            switch parts[0] {
            case "workflow-instance-logs": #expect(include == logIncludes)
            case "dispatch-tasks": #expect(include.contains("workflowInstance"))
            case "reports": #expect(include.contains("reportFields"))
            default: #expect(include.isEmpty)
            }
            #expect(body["secretHeaderName"]?.stringValue == "TrackTik-Callout-Secret")
            #expect(isStrongSecret(body["secret"]?.stringValue ?? ""))
            #expect(body["failureEmail"]?.stringValue?.isEmpty == false)
            let filter = body["contextFilters"]?["filters"]?.arrayValue?.first
            #expect(filter?["tag"]?.stringValue == "context.*")
            #expect(body["customId"]?.stringValue?.isEmpty == false)
        }
        #expect(routesSeen == onboarding.registeredRoutes)
        #expect(Set(routesSeen).isSuperset(of: ["reports/updated", "workflow-instance-logs/created"]))
    }

    @Test func trackTikSubscriptionsAreAcceptedByThePrintedTenant() async throws {
        let report = try report("tracktik")
        #expect(report.action == .add)
        #expect(report.setup.generatedSecret)
        let harness = try harness(for: report)
        for step in report.setup.steps {
            guard let body = step.call?.body else { continue }
            let url = try #require(body["url"]?.stringValue)
            let request = InboundRequest(
                method: "POST",
                path: String(url.dropFirst("https://hooks.example.com".count)),
                headers: RequestHeaders([
                    ("Content-Type", "application/json"),
                    (body["secretHeaderName"]?.stringValue ?? "", body["secret"]?.stringValue ?? ""),
                ]),
                body: Array(#"{"id":5001}"#.utf8)
            )
            let outcome = try await harness.send(request)
            #expect(outcome.httpStatus == 202, "\(url): \(outcome)")
        }
    }

    @Test func trackTikUsesTheTenantsConfiguredSecretNewestFirst() throws {
        let report = try report(
            "tracktik",
            tenant: "harbor-guard",
            configuration: """
                tenants:
                  - vendor: tracktik
                    tenant: harbor-guard
                    secretHeader: {name: X-TT-Secret, values: ["${TT_NEW}", tt-old-secret]}
                """,
            environment: ["TT_NEW": "tt-new-secret"]
        )
        #expect(report.action == .none)
        #expect(!report.setup.generatedSecret)
        #expect(report.setup.tenantEntry == nil)
        #expect(report.existingLine == 2)
        let body = try #require(report.setup.steps.compactMap(\.call?.body).first)
        #expect(body["secretHeaderName"]?.stringValue == "X-TT-Secret")
        #expect(body["secret"]?.stringValue == "tt-new-secret")
    }

    // MARK: Hellotracks

    @Test func hellotracksRegistersEveryWebhookKeyBothWays() async throws {
        let report = try report("hellotracks")
        let calls = report.setup.steps.compactMap(\.call)
        let legacy = try #require(calls.first { $0.url == "https://api.hellotracks.com/api/setwebhooks" })
        let rest = try #require(calls.first { $0.url == "https://api.hellotracks.com/v1/webhooks" })
        #expect(legacy.method == "POST")
        #expect(rest.method == "PUT")
        let keys = ["job_created", "job_updated", "job_completed", "job_archived", "job_deleted", "alert_triggered"]
        let legacyHooks = try #require(legacy.body?["data"]?.objectValue)
        let restHooks = try #require(rest.body?["webhooks"]?.objectValue)
        #expect(legacyHooks.keys == keys)
        #expect(restHooks.keys == keys)
        let url = "https://hooks.example.com/webhooks/hellotracks/new-tenant"
        for key in keys {
            #expect(legacyHooks[key]?["url"]?.stringValue == url)
            #expect(restHooks[key]?["url"]?.stringValue == url)
            #expect(legacyHooks[key]?["header"] == restHooks[key]?["headers"])
            #expect(legacyHooks[key]?["headers"] == nil, "/api/setwebhooks takes `header`")
            #expect(restHooks[key]?["header"] == nil, "/v1/webhooks takes `headers`")
        }
        let headers = try #require(legacyHooks["job_created"]?["header"]?.objectValue)
        let authorization = try #require(headers["Authorization"]?.stringValue)
        #expect(authorization.hasPrefix("Bearer "))
        #expect(isStrongSecret(String(authorization.dropFirst("Bearer ".count))))
        #expect(report.text.contains("api@hellotracks.com"))
        #expect(report.text.contains("check-in"))

        // What Hellotracks then sends is accepted by the printed tenant.
        let outcome = try await harness(for: report).send(
            InboundRequest(
                method: "POST",
                path: "/webhooks/hellotracks/new-tenant",
                headers: RequestHeaders([
                    ("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", authorization),
                ]),
                body: Array("id=p1&action=placecheckin&data=%7B%7D".utf8)
            )
        )
        #expect(outcome.httpStatus == 202, "\(outcome)")
    }

    @Test func hellotracksKeepsTheTenantsHeadersAndAccount() throws {
        let report = try report(
            "hellotracks",
            tenant: "rapidfix-hvac",
            configuration: """
                tenants:
                  - {vendor: hellotracks, tenant: rapidfix-hvac, account: rapidfix.hvac,
                     headers: {Authorization: ["Bearer new-one", "Bearer old-one"], X-Relay: relay-7}}
                """
        )
        #expect(report.action == .none)
        let body = try #require(report.setup.steps.compactMap(\.call?.body).first)
        #expect(
            body["data"]?["alert_triggered"]?["header"]
                == .object(["Authorization": "Bearer new-one", "X-Relay": "relay-7"])
        )
    }

    // MARK: TechLink

    @Test func techLinkGivesThePortalFieldsAndBothEnvironments() async throws {
        let report = try report("techlink")
        let fields = try #require(report.setup.steps.first?.fields)
        #expect(fields.map(\.name) == ["URL", "Token", "Event types", "Enabled"])
        #expect(fields[0].value == "https://hooks.example.com/webhooks/techlink/new-tenant")
        #expect(isStrongSecret(fields[1].value))
        #expect(fields[2].value.contains("work order status change"))
        #expect(fields[2].value.contains("site created"))
        #expect(report.text.contains("https://portal.techlinksvc.net/"))
        #expect(report.text.contains("https://sandbox.techlinksvc.net/"))
        let outcome = try await harness(for: report).send(
            InboundRequest(
                method: "POST",
                path: "/webhooks/techlink/new-tenant",
                headers: RequestHeaders([("Content-Type", "application/json"), ("X-Token", fields[1].value)]),
                body: Array(#"{"event":"work order closed","workorder_id":"1"}"#.utf8)
            )
        )
        #expect(outcome.httpStatus == 202, "\(outcome)")
    }

    @Test func aTenantWithoutATokenGetsOneAndKeepsItsWindow() throws {
        let report = try report(
            "techlink",
            tenant: "cobalt-pos",
            configuration: "tenants:\n  - {vendor: techlink, tenant: cobalt-pos, dedupeWindow: 15m}\n"
        )
        #expect(report.action == .replace)
        #expect(report.existingLine == 2)
        #expect(report.setup.generatedSecret)
        let harness = try harness(for: report)
        #expect(
            harness.directory.entry(vendor: "techlink", tenant: "cobalt-pos")?.dedupeWindow == .seconds(900)
        )
    }

    // MARK: Every vendor

    @Test(arguments: ["tracktik", "hellotracks", "techlink"])
    func everyGeneratedSecretIsNew(vendor: String) throws {
        let first = try report(vendor).setup.tenantEntry
        let second = try report(vendor).setup.tenantEntry
        #expect(first != nil && first != second)
    }

    @Test(arguments: ["tracktik", "hellotracks", "techlink"])
    func theJSONOutputIsOneValidDocument(vendor: String) throws {
        let parsed = try json(try report(vendor))
        #expect(parsed["vendor"]?.stringValue == vendor)
        #expect(parsed["tenantEntry"]?["action"]?.stringValue == "add")
        #expect(parsed["tenantEntry"]?["yaml"]?.stringValue?.contains("tenant: \"new-tenant\"") == true)
        #expect(parsed["generatedSecret"] == .bool(true))
        #expect(parsed["notes"]?.arrayValue?.isEmpty == false)
        for step in parsed["steps"]?.arrayValue ?? [] {
            #expect(step["title"]?.stringValue?.isEmpty == false)
        }
    }

    @Test func generatedSecretsAre32RandomBytes() {
        var seen: Set<String> = []
        for _ in 0..<64 {
            let secret = GeneratedSecret.make()
            #expect(Base64URL.decode(secret)?.count == 32)
            #expect(secret.utf8.count == 43)
            seen.insert(secret)
        }
        #expect(seen.count == 64)
    }

    @Test(arguments: [
        ("acme", "https://h.example", "t", "unknown vendor 'acme'"),
        ("tracktik", "ftp://h.example", "t", "must be an http(s) URL"),
        ("tracktik", "https://h.example/?x=1", "t", "query"),
        ("tracktik", "https://user:pw@h.example", "t", "credentials"),
        ("tracktik", "https://h.example", "a/b", "URL path segment"),
    ])
    func refusesWhatCannotBeRegistered(vendor: String, url: String, tenant: String, reason: String) {
        do {
            _ = try VendorSetupReport(
                vendor: vendor,
                tenant: tenant,
                publicURL: try PublicURL(url),
                configuration: nil,
                adapters: BuiltInVendors.adapters
            )
            Issue.record("accepted \(vendor) \(url) \(tenant)")
        } catch {
            #expect(error.reason.contains(reason), "\(error)")
        }
    }

    @Test func aPlainHTTPAddressIsWarnedAbout() throws {
        let report = try VendorSetupReport(
            vendor: "techlink",
            tenant: "t",
            publicURL: try PublicURL("http://hooks.example.com"),
            configuration: nil,
            adapters: BuiltInVendors.adapters
        )
        #expect(report.warnings.count == 1)
        #expect(report.text.contains("WARNING"))
    }

    // MARK: check-config

    static let secrets = ["tt-secret-4411", "tt-old-0912", "Bearer ht-key-77", "relay-x", "tl-tok-1", "tl-tok-2"]
    static let checkedConfiguration = """
        server: {host: 127.0.0.1, port: 8088}
        admin: {token: admin-secret-9}
        tenants:
          - {vendor: tracktik, tenant: nw, secretHeader: {name: X-NW-Secret, values: [tt-secret-4411, tt-old-0912]}}
          - {vendor: hellotracks, tenant: rf, account: rf.acct, headers: {Authorization: "Bearer ht-key-77", X-Relay: relay-x}}
          - {vendor: techlink, tenant: bl, tokens: [tl-tok-1, tl-tok-2]}
          - {vendor: techlink, tenant: open}
        subscribers:
          - {id: billing, url: "https://ops:sub-pass-3@billing.example/hooks?key=sub-key-8", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
        """

    @Test func checkConfigListsRoutesAndCredentialKindsButNoSecret() throws {
        let configuration = try GatewayConfiguration.parse(yaml: Self.checkedConfiguration, file: "gw.yaml")
        let check = try ConfigurationCheck(configuration: configuration, adapters: BuiltInVendors.adapters)
        #expect(check.publicURL.base == "http://127.0.0.1:8088")
        #expect(check.tenants.map(\.tenant) == ["nw", "rf", "bl", "open"])
        #expect(check.tenants[0].routes.contains("http://127.0.0.1:8088/webhooks/tracktik/nw/reports/updated"))
        #expect(check.tenants[0].credentials.contains("X-NW-Secret"))
        #expect(check.tenants[0].credentials.contains("2 values"))
        #expect(check.tenants[1].routes == ["http://127.0.0.1:8088/webhooks/hellotracks/rf"])
        #expect(
            check.tenants[1].credentials.contains("'Authorization'") && check.tenants[1].credentials.contains("X-Relay")
        )
        #expect(check.tenants[2].credentials.contains("2 tokens"))
        #expect(check.tenants[3].credentials.hasPrefix("none"))
        #expect(check.tenants[2].dedupeWindow == .seconds(600))
        let outputs = [check.text, check.json.prettyText()]
        for output in outputs {
            for secret in Self.secrets + [
                "admin-secret-9", "sub-pass-3", "sub-key-8", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ] {
                #expect(!output.contains(secret), "check-config printed a secret")
            }
        }
        #expect(try JSONValue(parsing: Array(check.json.jsonText.utf8))["tenants"]?.arrayValue?.count == 4)
        #expect(check.subscribers.first?.url.hasPrefix("https://") == true)
        #expect(check.subscribers.first?.url.contains("billing.example/hooks") == true)
    }

    @Test func checkConfigShowsRoutesAtThePublicURL() throws {
        let configuration = try GatewayConfiguration.parse(yaml: Self.checkedConfiguration)
        let check = try ConfigurationCheck(
            configuration: configuration,
            adapters: BuiltInVendors.adapters,
            publicURL: try PublicURL("https://gw.example.com/ingest/")
        )
        #expect(check.tenants[2].routes == ["https://gw.example.com/ingest/webhooks/techlink/bl"])
    }

    @Test func checkConfigRefusesWhatServeRefuses() throws {
        let configuration = try GatewayConfiguration.parse(
            yaml: "tenants:\n  - {vendor: techlink, tenant: a}\n  - {vendor: hellotracks, tenant: b, header: {}}\n",
            file: "gw.yaml"
        )
        do {
            _ = try ConfigurationCheck(configuration: configuration, adapters: BuiltInVendors.adapters)
            Issue.record("accepted an unknown tenant key")
        } catch {
            #expect(error.description.hasPrefix("gw.yaml:3: "), "\(error)")
            #expect(error.reason.contains("unknown key 'header'"))
        }
    }
}
