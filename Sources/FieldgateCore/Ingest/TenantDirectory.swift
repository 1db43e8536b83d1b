package import FieldgateModel

/// The adapters the gateway was built with and the tenants configured for them, ready for lookups per request.
package struct TenantDirectory: Sendable {
    /// One configured tenant: its adapter, its prepared credentials and mapping, its dedupe window.
    package struct Entry: Sendable {
        package var adapter: any VendorAdapter
        package var tenant: any VendorTenant
        package var dedupeWindow: Duration
    }

    private var adapters: [String: any VendorAdapter]
    private var entries: [String: [String: Entry]]

    /// Builds every tenant through its vendor's adapter; an unknown vendor or a bad tenant option is refused
    /// with the tenant's line.
    package init(configuration: GatewayConfiguration, adapters: [any VendorAdapter]) throws(ConfigurationError) {
        var byVendor: [String: any VendorAdapter] = [:]
        for adapter in adapters { byVendor[adapter.vendor] = adapter }
        self.adapters = byVendor
        entries = [:]
        for (position, definition) in configuration.tenants.enumerated() {
            let line = configuration.tenantLines.indices.contains(position) ? configuration.tenantLines[position] : nil
            guard let adapter = byVendor[definition.vendor] else {
                let known = byVendor.keys.sorted().joined(separator: ", ")
                throw ConfigurationError(
                    file: configuration.file,
                    line: line,
                    "unknown vendor '\(definition.vendor)' (this build knows: \(known))"
                )
            }
            do {
                let tenant = try adapter.makeTenant(definition)
                entries[definition.vendor, default: [:]][definition.tenant] = Entry(
                    adapter: adapter,
                    tenant: tenant,
                    dedupeWindow: definition.dedupeWindow ?? adapter.defaultDedupeWindow
                )
            } catch {
                var error = error
                error.file = configuration.file
                error.line = error.line ?? line
                throw error
            }
        }
    }

    /// The vendors this build has adapters for, sorted.
    package var vendors: [String] { adapters.keys.sorted() }

    package func adapter(for vendor: some StringProtocol) -> (any VendorAdapter)? {
        adapters[String(vendor)]
    }

    package func entry(vendor: String, tenant: some StringProtocol) -> Entry? {
        entries[vendor]?[String(tenant)]
    }
}
