package import FieldgateModel

/// `fieldgate vendor-setup`: asks the vendor's adapter what to register for a tenant and lays it out for a
/// terminal or a script. The vendor knowledge is the adapter's (``VendorOnboarding``); this only renders it.
package struct VendorSetupReport: Sendable {
    /// Where the tenant's entry stands in the configuration that was read.
    package enum TenantEntryAction: String, Sendable {
        /// The configuration has no such tenant: add the entry under `tenants:`.
        case add
        /// The tenant exists but lacks what the registrations need (a credential): replace its entry.
        case replace
        /// The tenant exists and is complete: nothing to change.
        case none
    }

    package var vendor: String
    package var tenant: String
    package var webhookURL: String
    package var setup: VendorSetup
    package var action: TenantEntryAction
    /// The configuration file and line of the existing entry, when there is one.
    package var configurationFile: String?
    package var existingLine: Int?
    package var warnings: [String] = []

    /// Builds the report for `vendor`'s `tenant`; the configuration, when given, supplies the tenant's existing
    /// entry (and is validated first, as `serve` would).
    package init(
        vendor: String,
        tenant: String,
        publicURL: PublicURL,
        configuration: GatewayConfiguration?,
        adapters: [any VendorAdapter],
        newSecret: @escaping @Sendable () -> String = GeneratedSecret.make
    ) throws(ConfigurationError) {
        guard let adapter = adapters.first(where: { $0.vendor == vendor }) else {
            let known = adapters.map(\.vendor).joined(separator: ", ")
            throw ConfigurationError(line: nil, "unknown vendor '\(vendor)' (this build knows: \(known))")
        }
        guard let onboarding = adapter as? any VendorOnboarding else {
            throw ConfigurationError(line: nil, "the \(vendor) adapter has no setup guide")
        }
        guard GatewayConfiguration.isTenantSlug(tenant) else {
            throw ConfigurationError(
                line: nil,
                "tenant '\(tenant)' must be a URL path segment (printable ASCII without '/', '?' or spaces)"
            )
        }
        var existing: TenantDefinition?
        if let configuration {
            _ = try TenantDirectory(configuration: configuration, adapters: adapters)
            configurationFile = configuration.file
            if let position = configuration.tenants.firstIndex(where: { $0.vendor == vendor && $0.tenant == tenant }) {
                existing = configuration.tenants[position]
                existingLine =
                    configuration.tenantLines.indices.contains(position) ? configuration.tenantLines[position] : nil
            }
        }
        self.vendor = vendor
        self.tenant = tenant
        webhookURL = publicURL.webhookURL(vendor: vendor, tenant: tenant)
        setup = try onboarding.setup(
            VendorSetupRequest(tenant: tenant, webhookURL: webhookURL, existing: existing, newSecret: newSecret)
        )
        action = setup.tenantEntry == nil ? .none : (existing == nil ? .add : .replace)
        if !publicURL.isHTTPS {
            warnings.append(
                "\(publicURL) is not https: vendors send their secrets in headers, which anyone on the path can read;"
                    + " put TLS in front of the gateway and use its https:// address."
            )
        }
    }

    /// What a terminal shows.
    package var text: String {
        var lines: [String] = []
        lines.append("\(vendor) setup for tenant '\(tenant)' (routes under \(webhookURL))")
        lines.append("")
        lines.append(Self.wrap(setup.summary))
        for warning in warnings {
            lines.append("")
            lines.append(Self.wrap("WARNING: \(warning)"))
        }
        // Step numbers right-aligned, so that step 10's text lines up with step 9's.
        let width = String(setup.steps.count).count + 2
        let margin = String(repeating: " ", count: width)
        for (number, step) in setup.steps.enumerated() {
            lines.append("")
            let label = "\(number + 1). "
            lines.append(String(repeating: " ", count: max(0, width - label.count)) + label + step.title)
            if !step.detail.isEmpty { lines.append(Self.wrap(step.detail, prefix: margin)) }
            for field in step.fields {
                lines.append(margin + "\(field.name): \(field.value)")
            }
            if let call = step.call {
                lines.append("")
                lines.append(margin + "\(call.method) \(call.url)")
                for header in call.headers { lines.append(margin + "\(header.name): \(header.value)") }
                if let body = call.body {
                    lines.append("")
                    lines.append(Self.indent(body.prettyText(), by: margin))
                }
            }
        }
        lines.append("")
        switch action {
        case .add:
            lines.append("Add this tenant under `tenants:` in fieldgate.yaml, then restart the gateway:")
        case .replace:
            let place = [configurationFile, existingLine.map { "line \($0)" }].compactMap { $0 }.joined(separator: ", ")
            lines.append("Replace the tenant's entry (\(place)) with this one, then restart the gateway:")
        case .none:
            let place = [configurationFile, existingLine.map { "line \($0)" }].compactMap { $0 }.joined(separator: ", ")
            lines.append("The tenant is configured already (\(place)); fieldgate.yaml needs no change.")
        }
        if let entry = setup.tenantEntry {
            lines.append("")
            lines.append(Self.indent(entry, by: "  "))
        }
        if setup.generatedSecret {
            lines.append("")
            lines.append(
                Self.wrap(
                    "The secret above was generated now (32 random bytes) and is shown only here: keep it in your"
                        + " secret store, or put it in the environment and write \"${VAR}\" in fieldgate.yaml."
                )
            )
        }
        if !setup.notes.isEmpty {
            lines.append("")
            lines.append("Notes")
            for note in setup.notes { lines.append(Self.wrap(note, prefix: "- ", hanging: "  ")) }
        }
        return lines.joined(separator: "\n")
    }

    /// The same, for scripts: every request body as JSON, the tenant entry as YAML text.
    package var json: JSONValue {
        var root = JSONObject()
        root["vendor"] = .string(vendor)
        root["tenant"] = .string(tenant)
        root["webhookURL"] = .string(webhookURL)
        root["summary"] = .string(setup.summary)
        root["steps"] = .array(
            setup.steps.map { step in
                var object = JSONObject()
                object["title"] = .string(step.title)
                object["detail"] = .string(step.detail)
                if !step.fields.isEmpty {
                    object["fields"] = .array(
                        step.fields.map { .object(["name": .string($0.name), "value": .string($0.value)]) }
                    )
                }
                if let call = step.call {
                    var request = JSONObject()
                    request["method"] = .string(call.method)
                    request["url"] = .string(call.url)
                    request["headers"] = .object(JSONObject(call.headers.map { ($0.name, .string($0.value)) }))
                    request["body"] = call.body ?? .null
                    object["request"] = .object(request)
                }
                return .object(object)
            }
        )
        var entry = JSONObject()
        entry["action"] = .string(action.rawValue)
        entry["file"] = .string(configurationFile)
        entry["line"] = existingLine.map { .integer($0) } ?? .null
        entry["yaml"] = .string(setup.tenantEntry)
        root["tenantEntry"] = .object(entry)
        root["generatedSecret"] = .bool(setup.generatedSecret)
        root["warnings"] = .array(warnings.map { .string($0) })
        root["notes"] = .array(setup.notes.map { .string($0) })
        return .object(root)
    }

    static func indent(_ text: String, by prefix: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : prefix + $0 }
            .joined(separator: "\n")
    }

    /// Prose wrapped at word boundaries to `width` columns for a terminal; a word longer than a line (a URL)
    /// stays whole. The first line starts with `prefix`, the others with `hanging` (default: as many spaces).
    static func wrap(_ text: String, prefix: String = "", hanging: String? = nil, width: Int = 100) -> String {
        let continuation = hanging ?? String(repeating: " ", count: prefix.count)
        var lines: [String] = []
        var line = prefix
        var lineIsEmpty = true
        for word in text.split(whereSeparator: \.isWhitespace) {
            if !lineIsEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = continuation
                lineIsEmpty = true
            }
            line += (lineIsEmpty ? "" : " ") + word
            lineIsEmpty = false
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }
}
