package import FieldgateModel

/// Setting up TechLink Services webhooks for a tenant (portal.techlinksvc.net/developer/webhooks.php): a
/// registration in the portal's Webhooks tab with the tenant's URL and a token TechLink sends as `X-Token`.
extension TechLinkAdapter: VendorOnboarding {
    static let productionPortal = "https://portal.techlinksvc.net/"
    static let sandboxPortal = "https://sandbox.techlinksvc.net/"

    package var registeredRoutes: [String] { [""] }

    package func credentialSummary(_ definition: TenantDefinition) -> String {
        guard let tenant = (try? makeTenant(definition)) as? TechLinkTenant else { return "invalid" }
        switch tenant.tokens.count {
        case 0:
            return "none: no tokens configured, so X-Token is not checked and any caller that knows the URL is accepted"
        case 1: return "X-Token (exact value)"
        case let count: return "X-Token (any of \(count) tokens: one per registration, or a rotation)"
        }
    }

    package var setupOverview: String {
        """
        TechLink: in the portal (\(Self.productionPortal), or \(Self.sandboxPortal) to test), open Company \
        Details -> Webhooks -> Add New and register the tenant's URL with a token (sent as X-Token), the event \
        types to send, and Enabled.
        """
    }

    package func setup(_ request: VendorSetupRequest) throws(ConfigurationError) -> VendorSetup {
        var token: String
        var entry: String?
        if let existing = request.existing,
            let tenant = try makeTenant(existing) as? TechLinkTenant, let first = tenant.tokens.first
        {
            token = first
        } else {
            // A tenant without tokens accepts anyone; a registration made now gets one.
            token = request.newSecret()
            entry = """
                - vendor: techlink
                  tenant: \(ConfigText.quoted(request.tenant))
                  tokens: \(ConfigText.list([token]))
                """
            if let window = request.existing?.options["dedupeWindow"]?.scalar {
                entry! += "\n  dedupeWindow: \(ConfigText.quoted(window))"
            }
        }
        let events = TechLinkEvent.allCases.map(\.rawValue)
        return VendorSetup(
            summary: """
                TechLink posts each event as JSON to \(request.webhookURL) with the registration's token in \
                X-Token. Register it in the portal; test against the sandbox first.
                """,
            steps: [
                VendorSetupStep(
                    title: "Add the webhook in the TechLink portal",
                    detail: """
                        Log in to the portal, open your Company Details page, the Webhooks tab, and select Add New. \
                        Production: \(Self.productionPortal) — sandbox (a copy of production data, for testing): \
                        \(Self.sandboxPortal).
                        """,
                    fields: [
                        VendorSetupField("URL", request.webhookURL),
                        VendorSetupField("Token", token),
                        VendorSetupField("Event types", events.joined(separator: ", ")),
                        VendorSetupField("Enabled", "yes"),
                    ]
                ),
                VendorSetupStep(
                    title: "Check the registration",
                    detail: """
                        Change a work order's status in the sandbox and look for it with GET \
                        /v1/events?vendor=techlink&tenant=\(request.tenant) on the gateway. TechLink retries a \
                        failed call three times, a minute or two apart, and then never again: a refused call is in \
                        GET /v1/quarantine.
                        """
                ),
            ],
            tenantEntry: entry,
            generatedSecret: entry != nil,
            notes: [
                "TechLink sends no event ID: a retry is recognised by its content within the tenant's dedupe window"
                    + " (10 minutes by default, dedupeWindow to change it). A longer window would swallow a genuine"
                    + " repeat of a status that cycles back.",
                "Several registrations (say, work-order events and site/account events) may each have their own"
                    + " token: list every one under tokens. Rotating: add the new token to the list, restart, change"
                    + " the registration's token in the portal, then remove the old one.",
                "Not confirmed from TechLink's public page, which stops at Company Details -> Webhooks -> Add New:"
                    + " the exact labels of the form's fields and how it lists the event types (the names above are"
                    + " the ones TechLink sends in `event`).",
            ]
        )
    }
}
