import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import FieldgateVendors
import Testing

import struct Foundation.URL

@Suite("Configuration")
struct ConfigurationTests {
    static let adapters: [any VendorAdapter] = BuiltInVendors.adapters

    func configurationError(_ yaml: String, environment: [String: String] = [:]) -> ConfigurationError? {
        do {
            let configuration = try GatewayConfiguration.parse(yaml: yaml, file: "gw.yaml", environment: environment)
            _ = try TenantDirectory(configuration: configuration, adapters: Self.adapters)
            return nil
        } catch {
            return error
        }
    }

    @Test func readsTheContractExample() throws {
        let yaml = """
            server:   {host: 0.0.0.0, port: 9090, maxBodyBytes: 2048, requestTimeout: 20s, idleTimeout: 2m, maxConnections: 64}
            storage:  {postgres: "postgres://fg@127.0.0.1:5432/fieldgate"}
            admin:    {token: "${FIELDGATE_ADMIN_TOKEN}"}
            delivery: {allowNetworks: ["127.0.0.0/8", "::1/128", "10.20.0.0/16"]}
            retention: {events: 90d, quarantine: 30d, deliveries: 7d}
            tenants:
              - {vendor: tracktik, tenant: northwind-security, secretHeader: {name: TrackTik-Callout-Secret, value: "abc"},
                 statusNames: {"Guard Dispatched": dispatched}, dedupeWindow: 7d}
              - {vendor: hellotracks, tenant: rapidfix-hvac, account: rapidfix.hvac, headers: {Authorization: "Bearer x"}}
              - {vendor: techlink, tenant: brightline-retail, tokens: ["t1"]}
              - {vendor: techlink, tenant: cobalt-pos}
            subscribers:
              - {id: billing, url: "http://127.0.0.1:9000/hooks", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", types: ["job.*"], vendors: [], tenants: []}
            """
        let configuration = try GatewayConfiguration.parse(yaml: yaml, environment: ["FIELDGATE_ADMIN_TOKEN": "tok"])
        #expect(configuration.server.host == "0.0.0.0")
        #expect(configuration.server.port == 9090)
        #expect(configuration.server.maxBodyBytes == 2048)
        #expect(configuration.server.requestTimeout == .seconds(20))
        #expect(configuration.server.idleTimeout == .seconds(120))
        #expect(configuration.server.maxConnections == 64)
        #expect(configuration.storage == .postgres(url: "postgres://fg@127.0.0.1:5432/fieldgate"))
        #expect(configuration.adminToken == "tok")
        #expect(
            configuration.tenants.map(\.tenant) == [
                "northwind-security", "rapidfix-hvac", "brightline-retail", "cobalt-pos",
            ]
        )
        #expect(configuration.tenants[0].dedupeWindow == .seconds(7 * 86_400))
        #expect(configuration.subscribers.first?.types == ["job.*"])
        #expect(configuration.retention.deliveries == .seconds(7 * 86_400))
        #expect(configuration.retention.events == .seconds(90 * 86_400))
        #expect(configuration.delivery.allowNetworks.map(\.description) == ["127.0.0.0/8", "::1/128", "10.20.0.0/16"])
        let directory = try TenantDirectory(configuration: configuration, adapters: Self.adapters)
        #expect(directory.entry(vendor: "techlink", tenant: "cobalt-pos")?.dedupeWindow == .seconds(600))
        #expect(directory.entry(vendor: "hellotracks", tenant: "rapidfix-hvac")?.dedupeWindow == .seconds(7 * 86_400))
    }

    @Test func defaultsApplyToAnEmptyFile() throws {
        let configuration = try GatewayConfiguration.parse(yaml: "")
        #expect(configuration.server.port == 8080)
        #expect(configuration.server.maxBodyBytes == 1_048_576)
        #expect(configuration.server.requestTimeout == .seconds(30))
        #expect(configuration.server.idleTimeout == .seconds(60))
        #expect(configuration.server.maxConnections == 4096)
        #expect(configuration.storage == .sqlite(path: "fieldgate.db"))
        #expect(configuration.tenants.isEmpty)
        #expect(configuration.retention == GatewayConfiguration.Retention())
        #expect(configuration.delivery.disableAfter == .seconds(5 * 86_400))
        #expect(configuration.server.shutdownTimeout == .seconds(30))
        #expect(configuration.retention.events == .seconds(90 * 86_400))
        #expect(configuration.retention.quarantine == .seconds(30 * 86_400))
        #expect(configuration.retention.deliveries == .seconds(30 * 86_400))
    }

    @Test(arguments: [
        ("tenants:\n  - {vendor: acme, tenant: x}\n", 2, "unknown vendor 'acme'"),
        ("tenants:\n  - {vendor: techlink}\n", 2, "missing required key 'tenant'"),
        ("tenants:\n  - {vendor: tracktik, tenant: t}\n", 2, "needs secretHeader"),
        (
            "tenants:\n  - vendor: tracktik\n    tenant: t\n    secretHeader: {name: X}\n", 4,
            "missing required key 'value'"
        ),
        (
            "tenants:\n  - {vendor: techlink, tenant: a}\n  - {vendor: techlink, tenant: a}\n", 3,
            "already defined on line 2"
        ),
        ("tenants:\n  - {vendor: techlink, tenant: a, dedupeWindow: soon}\n", 2, "dedupeWindow 'soon'"),
        ("tenants:\n  - {vendor: techlink, tenant: a/b}\n", 2, "URL path segment"),
        (
            "tenants:\n  - vendor: tracktik\n    tenant: t\n    secretHeader: {name: X, value: y}\n    statusNames: {Gone: vanished}\n",
            5, "statusNames['Gone'] must be one of"
        ),
        ("server: {port: 99999}\n", 1, "server.port"),
        ("server:\n  port: 80\n  maxBodyBytes: -1\n", 3, "maxBodyBytes"),
        ("servr: {}\n", 1, "unknown key 'servr'"),
        ("server: {requestTimeout: 0s}\n", 1, "server.requestTimeout '0s' is out of range"),
        ("server: {requestTimeout: soon}\n", 1, "server.requestTimeout"),
        ("server: {idleTimeout: 2d}\n", 1, "server.idleTimeout '2d' is out of range"),
        ("server: {maxConnections: 0}\n", 1, "server.maxConnections 0 is out of range"),
        ("storage: {mysql: x}\n", 1, "unknown storage 'mysql'"),
        ("admin: {token: \"${NOT_SET_ANYWHERE}\"}\n", 1, "NOT_SET_ANYWHERE is not set"),
        ("tenants: [\n", 2, "not valid YAML"),
        ("subscribers:\n  - {id: b, url: ftp://x, secret: whsec_abc}\n", 2, "must be http(s)"),
        (
            "subscribers:\n  - {id: b, url: 'http://x', timeout: 99999999999999999w}\n", 2,
            "timeout '99999999999999999w' is out of range"
        ),
        ("subscribers:\n  - id: b\n    url: 'http://x'\n    timeout: 16000w\n", 4, "from 1s to 5m"),
        ("subscribers:\n  - id: b\n    url: 'http://x'\n    retrySchedule: [5s, 8d]\n", 4, "from 1s to 7d"),
        (
            "subscribers:\n  - id: b\n    url: 'http://x'\n    retrySchedule:\n      - 5s\n      - never\n", 6,
            "not a duration"
        ),
        ("subscribers:\n  - id: b\n    url: 'http://x'\n    maxConcurrency: 65\n", 4, "from 1 to 64"),
        (
            "delivery: {maxConcurrency: 4}\nsubscribers:\n  - {id: b, url: 'http://x', maxConcurrency: 5}\n", 3,
            "from 1 to 4"
        ),
        ("delivery: {maxConcurrency: 0}\n", 1, "delivery.maxConcurrency 0 is out of range"),
        ("delivery: {retries: 3}\n", 1, "unknown key 'delivery.retries'"),
        (
            "server: {shutdownTimeout: 0s}\n", 1,
            "server.shutdownTimeout '0s' is out of range: it must be from 1s to 10m"
        ),
        (
            "delivery: {disableAfter: 30s}\n", 1,
            "delivery.disableAfter '30s' is out of range: it must be from 1m to 365d"
        ),
        ("delivery: {disableAfter: never}\n", 1, "not a duration"),
        ("retention: {events: 30s}\n", 1, "retention.events '30s' is out of range: it must be from 1m to 3650d"),
        ("retention:\n  quarantine: 99999999999999999w\n", 2, "retention.quarantine"),
        ("retention: {deliveries: forever}\n", 1, "not a duration"),
        ("retention: {raw: 1d}\n", 1, "unknown key 'retention.raw'"),
        ("delivery:\n  allowNetworks:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n", 4, "not a network"),
        ("delivery: {allowNetworks: [localhost]}\n", 1, "'localhost' is not a network"),
        ("delivery: {allowNetworks: 10.0.0.0/8}\n", 1, "must be a list"),
        ("subscribers:\n  - id: b\n    url: 'http://127.0.0.1:9000/hooks'\n", 3, "127.0.0.1 is a loopback address"),
        ("subscribers:\n  - {id: b, url: 'http://[::ffff:169.254.169.254]/'}\n", 2, "link-local"),
        (
            "delivery: {allowNetworks: [10.20.0.0/16]}\nsubscribers:\n  - {id: b, url: 'http://10.21.0.1/'}\n", 3,
            "10.21.0.1 is a private address"
        ),
        ("tenants:\n  - {vendor: techlink, tenant: a, dedupeWindow: 99999999999999999w}\n", 2, "dedupeWindow"),
        ("tenants:\n  - {vendor: techlink, tenant: a, dedupeWindow: 0s}\n", 2, "from 1s to 365d"),
        // Empty credentials (CONTRACT §5), and what would switch a check off without saying so.
        (
            "tenants:\n  - {vendor: tracktik, tenant: t, secretHeader: {name: X, value: \"\"}}\n", 2,
            "secretHeader.value is empty"
        ),
        ("tenants:\n  - {vendor: tracktik, tenant: t, secretHeader: {name: X, values: []}}\n", 2, "an empty list"),
        (
            "tenants:\n  - {vendor: tracktik, tenant: t, secretHeader: {name: X, values: [a, \"\"]}}\n", 2,
            "values[1] is empty"
        ),
        ("tenants:\n  - {vendor: tracktik, tenant: t, secretHeader: {name: X, value: a, values: [b]}}\n", 2, "both"),
        ("tenants:\n  - {vendor: tracktik, tenant: t, secretHeader: {name: X, valeu: a}}\n", 2, "unknown key 'valeu'"),
        (
            "tenants:\n  - {vendor: tracktik, tenant: t, secretHeader: {name: X Secret, value: a}}\n", 2,
            "not a valid HTTP header name"
        ),
        ("tenants:\n  - {vendor: tracktik, tenant: t, secretHeader: {name: X, value: \" a\"}}\n", 2, "whitespace"),
        (
            "tenants:\n  - {vendor: hellotracks, tenant: h, headers: {Authorization: \"\"}}\n", 2,
            "headers['Authorization'] is empty"
        ),
        ("tenants:\n  - {vendor: hellotracks, tenant: h, headers: {Authorization: []}}\n", 2, "an empty list"),
        ("tenants:\n  - {vendor: hellotracks, tenant: h, headers: {X-A: [a, \"b\\n\"]}}\n", 2, "headers['X-A'][1]"),
        ("tenants:\n  - {vendor: hellotracks, tenant: h, headers: {X-A: a, x-a: b}}\n", 2, "given twice"),
        ("tenants:\n  - {vendor: hellotracks, tenant: h, account: \"\"}\n", 2, "'account' is empty"),
        ("tenants:\n  - {vendor: techlink, tenant: a, tokens: [\"\"]}\n", 2, "tokens[0] is empty"),
        ("tenants:\n  - {vendor: techlink, tenant: a, token: [x]}\n", 2, "unknown key 'token'"),
        ("admin: {token: \"\"}\n", 1, "admin.token is empty"),
    ])
    func refusesWithFileLineAndReason(yaml: String, line: Int, reason: String) throws {
        let error = try #require(configurationError(yaml))
        #expect(error.file == "gw.yaml")
        #expect(error.line == line, "\(error)")
        #expect(error.reason.contains(reason), "\(error)")
        #expect(error.description.hasPrefix("gw.yaml:\(line): "))
    }

    @Test func aVariableThatIsSetButEmptyIsRefusedWithItsLine() throws {
        let yaml = "tenants:\n  - vendor: techlink\n    tenant: a\n    tokens: [\"${TL_TOKEN}\"]\n"
        let error = try #require(configurationError(yaml, environment: ["TL_TOKEN": ""]))
        #expect(error.description == "gw.yaml:4: environment variable TL_TOKEN is set but empty")
    }

    @Test func anEmptyTokenListIsATenantWithoutTokens() throws {
        let yaml = "tenants:\n  - {vendor: techlink, tenant: a, tokens: []}\n"
        let configuration = try GatewayConfiguration.parse(yaml: yaml)
        let directory = try TenantDirectory(configuration: configuration, adapters: Self.adapters)
        let tenant = try #require(directory.entry(vendor: "techlink", tenant: "a")?.tenant)
        #expect(tenant.authenticate(RequestHeaders()) == nil)
    }

    @Test func rotationListsAreRead() throws {
        let yaml = """
            tenants:
              - {vendor: tracktik, tenant: t, secretHeader: {name: X-S, values: ["${NEW}", old]}}
              - {vendor: hellotracks, tenant: h, headers: {Authorization: ["Bearer n", "Bearer o"], X-B: b}}
            """
        #expect(configurationError(yaml, environment: ["NEW": "new"]) == nil)
    }

    @Test func environmentVariablesExpandInsideValues() throws {
        let yaml = "tenants:\n  - {vendor: techlink, tenant: a, tokens: [\"pre-${TL_TOKEN}-post\"]}\n"
        let configuration = try GatewayConfiguration.parse(yaml: yaml, environment: ["TL_TOKEN": "xyz"])
        #expect(configuration.tenants[0].options["tokens"]?.sequenceValues == ["pre-xyz-post"])
    }

    @Test(arguments: [
        ("30m", Duration.seconds(1800)), ("7d", .seconds(604_800)), ("1h30m", .seconds(5400)), ("45s", .seconds(45)),
        ("500ms", .milliseconds(500)), ("2w", .seconds(1_209_600)),
    ])
    func parsesDurations(text: String, duration: Duration) {
        #expect(DurationText.parse(text) == duration)
    }

    @Test(arguments: ["", "7", "d", "7x", "-5m", "1e5s", "5s3", "m5", "99999999999999999999999999x"])
    func refusesBadDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
        #expect(DurationText.read(text) == .malformed)
    }

    /// Whatever the digits, reading a duration never traps: too long is an answer, not an overflow.
    @Test(arguments: [
        "99999999999999999w", "16000w", "9223372036854775807ms", "9223372036854775808ms",
        "99999999999999999999999999999999999s", "36501d", "1w99999999999999999d", "5000000000000000000ms1ms",
    ])
    func durationsLongerThanACenturyAreTooLong(text: String) {
        #expect(DurationText.read(text) == .tooLong)
        #expect(DurationText.parse(text) == nil)
    }

    @Test func theLongestDurationIsACenturyAndFormatsBack() {
        #expect(DurationText.read("36500d") == .duration(DurationText.maximum))
        #expect(DurationText.format(DurationText.maximum) == "36500d")
        #expect(Duration.seconds(Int64.max).milliseconds == .max)
        #expect(Duration.seconds(Int64.min).milliseconds == .min)
    }

    @Test func sharedCorpusConfigurationLoads() throws {
        let path = RepositoryPaths.sharedCorpus.appendingPathComponent("fieldgate.yaml").path
        let configuration = try GatewayConfiguration.load(path: path, environment: [:])
        #expect(configuration.tenants.count == 7)
        #expect(configuration.adminToken == "dev-admin-token")
        _ = try TenantDirectory(configuration: configuration, adapters: Self.adapters)
    }
}

extension ConfigNode {
    var sequenceValues: [String]? {
        if case .sequence(let elements, _) = self { return elements.compactMap(\.scalar) }
        return nil
    }
}
