package import FieldgateModel

import class Foundation.FileManager
import struct Foundation.URL

/// `fieldgate.yaml` (CONTRACT §5): server, storage, admin token, tenants and subscribers.
///
/// Vendor-specific tenant keys are left to each adapter (see ``TenantDirectory``), so the core reads only what
/// every tenant shares and never needs to change when a vendor is added.
package struct GatewayConfiguration: Sendable {
    package struct Server: Sendable, Equatable {
        package var host = "127.0.0.1"
        package var port = 8080
        package var maxBodyBytes = 1_048_576
        /// How long a graceful stop (SIGTERM, SIGINT) may take before what is still running is cancelled.
        package var shutdownTimeout: Duration = .seconds(30)
        /// The head and the whole body must arrive within this (CONTRACT §1: 408, then close).
        package var requestTimeout: Duration = .seconds(30)
        /// An idle keep-alive connection is closed after this.
        package var idleTimeout: Duration = .seconds(60)
        /// Connections beyond this are refused at once.
        package var maxConnections = 4096
        package init() {}
    }

    /// `delivery:`: how the gateway sends to subscribers.
    package struct Delivery: Sendable, Equatable {
        /// Deliveries in flight at once over all subscribers; a subscriber's `maxConcurrency` is at most this.
        package var maxConcurrency = 64
        /// Blocks of refused addresses (loopback, private, …) that deliveries may go to nonetheless (CONTRACT §7).
        package var allowNetworks: [IPNetwork] = []
        /// A subscriber whose every attempt failed for this long, without a single success, is disabled (as Svix).
        package var disableAfter: Duration = .seconds(5 * 86_400)
        package init() {}

        /// Where deliveries may go.
        package var networkPolicy: NetworkPolicy { NetworkPolicy(allowNetworks: allowNetworks) }
    }

    /// `retention:`: how long what is stored is kept (CONTRACT §5); older rows are deleted in small batches.
    package struct Retention: Sendable, Equatable {
        /// Accepted events with their raw requests, deliveries and attempts (kept longer while dedupe needs them).
        package var events: Duration = .seconds(90 * 86_400)
        /// Quarantined requests.
        package var quarantine: Duration = .seconds(30 * 86_400)
        /// Delivered deliveries and their attempts (dead letters stay with their event).
        package var deliveries: Duration = .seconds(30 * 86_400)
        package init() {}
    }

    package enum Storage: Sendable, Equatable {
        case sqlite(path: String)
        case postgres(url: String)
    }

    package struct Subscriber: Sendable {
        package var id: String
        package var url: String
        package var secret: String?
        package var types: [String]
        package var vendors: [String]
        package var tenants: [String]
        package var statuses: [String]
        package var retrySchedule: [Duration]
        package var timeout: Duration
        package var maxConcurrency: Int
        package var line: Int

        /// The subscriber as the delivery engine sees it.
        package var subscriber: FieldgateCore.Subscriber {
            FieldgateCore.Subscriber(
                id: id,
                url: url,
                secret: secret,
                filter: SubscriberFilter(types: types, vendors: vendors, tenants: tenants, statuses: statuses),
                retrySchedule: retrySchedule,
                timeout: timeout,
                maxConcurrency: maxConcurrency,
                origin: .config
            )
        }
    }

    package var server = Server()
    package var storage = Storage.sqlite(path: "fieldgate.db")
    package var delivery = Delivery()
    package var retention = Retention()
    package var adminToken: String?
    package var tenants: [TenantDefinition] = []
    /// The line of each tenant entry, for errors raised while adapters read them.
    package var tenantLines: [Int] = []
    package var subscribers: [Subscriber] = []
    /// Where the configuration came from, for error messages.
    package var file: String?

    package init() {}

    /// Reads and validates a configuration file; errors carry the file, the line and the reason.
    package static func load(path: String, environment: [String: String]) throws(ConfigurationError) -> Self {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, line: nil, "cannot read the file")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ConfigurationError(file: path, line: nil, "the file is not UTF-8")
        }
        return try parse(yaml: text, file: path, environment: environment)
    }

    /// Parses configuration text.
    package static func parse(
        yaml: String,
        file: String? = nil,
        environment: [String: String] = [:]
    )
        throws(ConfigurationError) -> Self
    {
        let root = try YAMLConfigReader.read(yaml, file: file, environment: environment)
        do {
            var configuration = try Self(root: root)
            configuration.file = file
            return configuration
        } catch {
            var error = error
            error.file = file
            throw error
        }
    }

    static let topLevelKeys: Set<String> = [
        "server", "storage", "admin", "delivery", "retention", "tenants", "subscribers",
    ]

    init(root: ConfigNode) throws(ConfigurationError) {
        if case .null = root { return }
        let members = try root.mapping(named: "configuration")
        for (key, node) in members where !Self.topLevelKeys.contains(key) {
            throw ConfigurationError(
                line: node.line,
                "unknown key '\(key)' (expected one of: \(Self.topLevelKeys.sorted().joined(separator: ", ")))"
            )
        }
        if let server = root["server"] { self.server = try Self.server(server) }
        if let storage = root["storage"] { self.storage = try Self.storage(storage) }
        if let delivery = root["delivery"] { self.delivery = try Self.delivery(delivery) }
        if let retention = root["retention"] { self.retention = try Self.retention(retention) }
        if let admin = root["admin"] {
            _ = try admin.mapping(named: "admin")
            adminToken = try admin.optionalString("token")
            if adminToken?.isEmpty == true {
                throw ConfigurationError(
                    line: admin["token"]?.line ?? admin.line,
                    "admin.token is empty: an empty credential is refused (omit it to keep the admin API closed)"
                )
            }
        }
        var seen: [String: Int] = [:]
        for node in try root["tenants"]?.sequence(named: "tenants") ?? [] {
            let definition = try Self.tenant(node)
            let identity = definition.vendor + "/" + definition.tenant
            if let first = seen[identity] {
                throw ConfigurationError(
                    line: node.line,
                    "tenant '\(definition.tenant)' of vendor '\(definition.vendor)' is already defined on line \(first)"
                )
            }
            seen[identity] = node.line
            tenants.append(definition)
            tenantLines.append(node.line)
        }
        for node in try root["subscribers"]?.sequence(named: "subscribers") ?? [] {
            subscribers.append(try Self.subscriber(node, delivery: delivery))
        }
    }

    static func server(_ node: ConfigNode) throws(ConfigurationError) -> Server {
        var server = Server()
        for (key, value) in try node.mapping(named: "server") {
            switch key {
            case "host":
                guard let host = value.scalar, !host.isEmpty else {
                    throw ConfigurationError(line: value.line, "server.host must be a host name or address")
                }
                server.host = host
            case "port":
                guard let port = value.scalar.flatMap(Int.init), (0...65_535).contains(port) else {
                    throw ConfigurationError(line: value.line, "server.port must be a number from 0 to 65535")
                }
                server.port = port
            case "maxBodyBytes":
                guard let limit = value.scalar.flatMap(Int.init), limit > 0 else {
                    throw ConfigurationError(line: value.line, "server.maxBodyBytes must be a positive number of bytes")
                }
                server.maxBodyBytes = limit
            case "shutdownTimeout":
                server.shutdownTimeout = try bounded(value) { text throws(Bounds.Violation) in
                    try Bounds.duration(text, of: "server.shutdownTimeout", in: Bounds.shutdownTimeout)
                }
            case "requestTimeout":
                server.requestTimeout = try bounded(value) { text throws(Bounds.Violation) in
                    try Bounds.duration(text, of: "server.requestTimeout", in: Bounds.requestTimeout)
                }
            case "idleTimeout":
                server.idleTimeout = try bounded(value) { text throws(Bounds.Violation) in
                    try Bounds.duration(text, of: "server.idleTimeout", in: Bounds.idleTimeout)
                }
            case "maxConnections":
                server.maxConnections = try bounded(value) { text throws(Bounds.Violation) in
                    try Bounds.count(text, of: "server.maxConnections", in: Bounds.maxConnections)
                }
            default:
                throw ConfigurationError(
                    line: value.line,
                    "unknown key 'server.\(key)' (expected host, port, maxBodyBytes, requestTimeout, idleTimeout, "
                        + "maxConnections, shutdownTimeout)"
                )
            }
        }
        return server
    }

    static func delivery(_ node: ConfigNode) throws(ConfigurationError) -> Delivery {
        var delivery = Delivery()
        for (key, value) in try node.mapping(named: "delivery") {
            switch key {
            case "maxConcurrency":
                delivery.maxConcurrency = try Self.bounded(value) { text throws(Bounds.Violation) in
                    try Bounds.count(text, of: "delivery.maxConcurrency", in: Bounds.deliveryConcurrency)
                }
            case "disableAfter":
                delivery.disableAfter = try Self.bounded(value) { text throws(Bounds.Violation) in
                    try Bounds.duration(text, of: "delivery.disableAfter", in: Bounds.disableAfter)
                }
            case "allowNetworks":
                for element in try value.sequence(named: "delivery.allowNetworks") {
                    guard let text = element.scalar, let network = IPNetwork(text) else {
                        throw ConfigurationError(
                            line: element.line,
                            "delivery.allowNetworks entry '\(element.scalar ?? "")' is not a network such as "
                                + "10.20.0.0/16, 127.0.0.1 or ::1/128"
                        )
                    }
                    delivery.allowNetworks.append(network)
                }
            default:
                throw ConfigurationError(
                    line: value.line,
                    "unknown key 'delivery.\(key)' (expected allowNetworks, disableAfter, maxConcurrency)"
                )
            }
        }
        return delivery
    }

    static func retention(_ node: ConfigNode) throws(ConfigurationError) -> Retention {
        var retention = Retention()
        let settings: [String: WritableKeyPath<Retention, Duration>] = [
            "events": \.events, "quarantine": \.quarantine, "deliveries": \.deliveries,
        ]
        for (key, value) in try node.mapping(named: "retention") {
            guard let setting = settings[key] else {
                throw ConfigurationError(
                    line: value.line,
                    "unknown key 'retention.\(key)' (expected events, quarantine, deliveries)"
                )
            }
            retention[keyPath: setting] = try bounded(value) { text throws(Bounds.Violation) in
                try Bounds.duration(text, of: "retention.\(key)", in: Bounds.retention)
            }
        }
        return retention
    }

    /// Reads a scalar through one of ``Bounds``' checks, turning a violation into an error on the value's line.
    static func bounded<Value>(
        _ node: ConfigNode,
        _ read: (String) throws(Bounds.Violation) -> Value
    ) throws(ConfigurationError) -> Value {
        guard let text = node.scalar else { throw ConfigurationError(line: node.line, "expected a single value") }
        do {
            return try read(text)
        } catch {
            throw ConfigurationError(line: node.line, error.reason)
        }
    }

    static func storage(_ node: ConfigNode) throws(ConfigurationError) -> Storage {
        let members = try node.mapping(named: "storage")
        guard members.count == 1, let (key, value) = members.first else {
            throw ConfigurationError(line: node.line, "storage must have exactly one of 'sqlite' or 'postgres'")
        }
        guard let text = value.scalar, !text.isEmpty else {
            throw ConfigurationError(line: value.line, "storage.\(key) must be a non-empty string")
        }
        switch key {
        case "sqlite": return .sqlite(path: text)
        case "postgres":
            do {
                _ = try PostgresURL(parsing: text)
            } catch {
                throw ConfigurationError(line: value.line, error.description)
            }
            return .postgres(url: text)
        default:
            throw ConfigurationError(line: value.line, "unknown storage '\(key)' (expected sqlite or postgres)")
        }
    }

    static func tenant(_ node: ConfigNode) throws(ConfigurationError) -> TenantDefinition {
        _ = try node.mapping(named: "tenant")
        let vendor = try node.string("vendor")
        let tenant = try node.string("tenant")
        guard isTenantSlug(tenant) else {
            throw ConfigurationError(
                line: node["tenant"]?.line ?? node.line,
                "tenant '\(tenant)' must be a URL path segment (printable ASCII without '/', '?' or spaces)"
            )
        }
        var window: Duration?
        if let value = node["dedupeWindow"] {
            window = try bounded(value) { text throws(Bounds.Violation) in
                try Bounds.duration(text, of: "dedupeWindow", in: Bounds.dedupeWindow)
            }
        }
        return TenantDefinition(vendor: vendor, tenant: tenant, dedupeWindow: window, options: node)
    }

    /// A tenant slug is one printable ASCII path segment: no `/`, `?`, spaces or controls.
    package static func isTenantSlug(_ tenant: String) -> Bool {
        !tenant.isEmpty
            && tenant.utf8.allSatisfy { $0 > 0x20 && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "?") && $0 < 0x7F }
    }

    static func subscriber(_ node: ConfigNode, delivery: Delivery) throws(ConfigurationError) -> Subscriber {
        let deliveryLimit = delivery.maxConcurrency
        _ = try node.mapping(named: "subscriber")
        func list(_ key: String) throws(ConfigurationError) -> [String] {
            var values: [String] = []
            for element in try node[key]?.sequence(named: key) ?? [] {
                guard let text = element.scalar else {
                    throw ConfigurationError(line: element.line, "\(key) must be a list of strings")
                }
                values.append(text)
            }
            return values
        }
        let url = try node.string("url")
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme) else {
            throw ConfigurationError(line: node["url"]?.line ?? node.line, "subscriber url '\(url)' must be http(s)")
        }
        if let refusal = delivery.networkPolicy.refusal(forURL: url) {
            // The refusal names the address; the URL is not repeated (its user information may be a secret).
            throw ConfigurationError(line: node["url"]?.line ?? node.line, "subscriber url refused: \(refusal)")
        }
        let secret = try node.optionalString("secret")
        if let secret, !SubscriberSecret.isValid(secret) {
            throw ConfigurationError(
                line: node["secret"]?.line ?? node.line,
                "subscriber secret must be whsec_ followed by a base64 key"
            )
        }
        var schedule = FieldgateCore.Subscriber.defaultRetrySchedule
        if let scheduleNode = node["retrySchedule"] {
            let elements = try scheduleNode.sequence(named: "retrySchedule")
            var texts: [String] = []
            for element in elements {
                guard let text = element.scalar else {
                    throw ConfigurationError(line: element.line, "retrySchedule must be a list of durations")
                }
                texts.append(text)
            }
            do {
                schedule = try FieldgateCore.Subscriber.retrySchedule(texts)
            } catch {
                // The entry at fault when there is one, else the list.
                let line = elements.first { (try? FieldgateCore.Subscriber.retrySchedule([$0.scalar ?? ""])) == nil }?
                    .line
                throw ConfigurationError(line: line ?? scheduleNode.line, error.reason)
            }
        }
        var timeout = FieldgateCore.Subscriber.defaultTimeout
        if let value = node["timeout"] {
            timeout = try bounded(value) { text throws(Bounds.Violation) in try FieldgateCore.Subscriber.timeout(text) }
        }
        var maxConcurrency = min(FieldgateCore.Subscriber.defaultMaxConcurrency, deliveryLimit)
        if let value = node["maxConcurrency"] {
            maxConcurrency = try bounded(value) { text throws(Bounds.Violation) in
                try FieldgateCore.Subscriber.maxConcurrency(text, deliveryLimit: deliveryLimit)
            }
        }
        return Subscriber(
            id: try node.string("id"),
            url: url,
            secret: secret,
            types: try list("types"),
            vendors: try list("vendors"),
            tenants: try list("tenants"),
            statuses: try list("statuses"),
            retrySchedule: schedule,
            timeout: timeout,
            maxConcurrency: maxConcurrency,
            line: node.line
        )
    }
}
