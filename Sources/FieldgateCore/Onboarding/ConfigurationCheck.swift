package import FieldgateModel

import struct Foundation.URLComponents

/// `fieldgate check-config`: a configuration validated exactly as `serve` validates it, and what an operator checks
/// before pointing vendors at it — per tenant its route URLs and how it authenticates. Never a secret.
package struct ConfigurationCheck: Sendable {
    package struct Tenant: Sendable {
        package var vendor: String
        package var tenant: String
        package var line: Int?
        package var credentials: String
        package var dedupeWindow: Duration
        /// Full URLs; empty when the adapter does not list its routes.
        package var routes: [String]
    }

    package struct Subscriber: Sendable {
        package var id: String
        package var url: String
        package var hasSecret: Bool
    }

    package var file: String?
    package var publicURL: PublicURL
    package var tenants: [Tenant] = []
    package var subscribers: [Subscriber] = []
    package var adminAPI: String
    package var storage: String

    /// Validates `configuration` with the same adapters `serve` uses; throws the first problem with its file and
    /// line. Without `publicURL`, routes are shown at `http://<server.host>:<server.port>`.
    package init(
        configuration: GatewayConfiguration,
        adapters: [any VendorAdapter],
        publicURL: PublicURL? = nil
    ) throws(ConfigurationError) {
        let directory = try TenantDirectory(configuration: configuration, adapters: adapters)
        file = configuration.file
        let server = configuration.server
        let host = server.host.contains(":") ? "[\(server.host)]" : server.host
        if let publicURL {
            self.publicURL = publicURL
        } else {
            self.publicURL = try PublicURL("http://\(host):\(server.port)")
        }
        let base = self.publicURL
        for (position, definition) in configuration.tenants.enumerated() {
            guard let entry = directory.entry(vendor: definition.vendor, tenant: definition.tenant) else { continue }
            let onboarding = entry.adapter as? any VendorOnboarding
            tenants.append(
                Tenant(
                    vendor: definition.vendor,
                    tenant: definition.tenant,
                    line: configuration.tenantLines.indices.contains(position)
                        ? configuration.tenantLines[position] : nil,
                    credentials: onboarding?.credentialSummary(definition) ?? "not described by this vendor's adapter",
                    dedupeWindow: entry.dedupeWindow,
                    routes: (onboarding?.registeredRoutes ?? []).map {
                        base.routeURL(vendor: definition.vendor, tenant: definition.tenant, suffix: $0)
                    }
                )
            )
        }
        subscribers = configuration.subscribers.map {
            Subscriber(id: $0.id, url: Self.displayed($0.url), hasSecret: $0.secret != nil)
        }
        adminAPI = configuration.adminToken == nil ? "closed (no admin.token)" : "bearer token configured"
        storage =
            switch configuration.storage {
            case .sqlite(let path): "sqlite \(path)"
            case .postgres: "postgres (URL not shown)"
            }
    }

    /// A subscriber URL without what could be a secret: user information and the query become `[redacted]`.
    static func displayed(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host
        else { return "[not shown: not a URL]" }
        var text = scheme + "://"
        if components.user != nil || components.password != nil { text += "[redacted]@" }
        text += host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        if let port = components.port { text += ":\(port)" }
        text += components.percentEncodedPath
        if components.query != nil { text += "?[redacted]" }
        return text
    }

    /// What a terminal shows: a header line, then one block per tenant.
    package var text: String {
        var lines: [String] = []
        let count = tenants.count == 1 ? "1 tenant" : "\(tenants.count) tenants"
        let subscriberCount = subscribers.count == 1 ? "1 subscriber" : "\(subscribers.count) subscribers"
        lines.append("\(file ?? "configuration"): valid — \(count), \(subscriberCount)")
        lines.append("storage: \(storage); admin API: \(adminAPI); routes shown at \(publicURL)")
        for tenant in tenants {
            lines.append("")
            var heading = "\(tenant.vendor)/\(tenant.tenant)"
            if let line = tenant.line { heading += " (line \(line))" }
            lines.append(heading)
            lines.append("  credentials:   \(tenant.credentials)")
            lines.append("  dedupe window: \(DurationText.format(tenant.dedupeWindow))")
            if tenant.routes.isEmpty {
                lines.append("  routes:        not listed by this vendor's adapter")
            }
            for (position, route) in tenant.routes.enumerated() {
                lines.append((position == 0 ? "  routes:        POST " : "                 POST ") + route)
            }
        }
        if !subscribers.isEmpty {
            lines.append("")
            lines.append("subscribers")
            for subscriber in subscribers {
                lines.append(
                    "  \(subscriber.id): \(subscriber.url)\(subscriber.hasSecret ? " (signed)" : " (unsigned)")"
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The same facts for scripts.
    package var json: JSONValue {
        var root = JSONObject()
        root["file"] = .string(file)
        root["valid"] = true
        root["publicURL"] = .string(publicURL.base)
        root["storage"] = .string(storage)
        root["adminAPI"] = .string(adminAPI)
        root["tenants"] = .array(
            tenants.map { tenant in
                var object = JSONObject()
                object["vendor"] = .string(tenant.vendor)
                object["tenant"] = .string(tenant.tenant)
                object["line"] = tenant.line.map { .integer($0) } ?? .null
                object["credentials"] = .string(tenant.credentials)
                object["dedupeWindow"] = .string(DurationText.format(tenant.dedupeWindow))
                object["routes"] = .array(tenant.routes.map { .string($0) })
                return .object(object)
            }
        )
        root["subscribers"] = .array(
            subscribers.map { subscriber in
                .object([
                    "id": .string(subscriber.id), "url": .string(subscriber.url), "signed": .bool(subscriber.hasSecret),
                ])
            }
        )
        return .object(root)
    }
}
