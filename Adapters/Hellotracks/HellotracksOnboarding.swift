package import FieldgateModel

/// Setting up Hellotracks webhooks for a tenant (api-docs.hellotracks.com, "Webhooks"): every webhook key points
/// at the tenant's one route and sends the tenant's headers; `action` in the form says what happened.
extension HellotracksAdapter: VendorOnboarding {
    /// The keys `/api/setwebhooks` and `/v1/webhooks` accept. Job check-in/out and place check-in/out are not among
    /// them: Hellotracks enables those per account.
    static let webhookKeys = [
        "job_created", "job_updated", "job_completed", "job_archived", "job_deleted", "alert_triggered",
    ]
    static let enabledByHellotracks = ["jobcheckin", "jobcheckout", "placecheckin", "placecheckout"]

    package var registeredRoutes: [String] { [""] }

    package func credentialSummary(_ definition: TenantDefinition) -> String {
        guard let tenant = (try? makeTenant(definition)) as? HellotracksTenant else { return "invalid" }
        let account =
            tenant.account.map { "account '\($0)' (callbacks for another account are refused)" }
            ?? "any account"
        guard !tenant.headers.isEmpty else {
            return "none: no headers configured, so any caller that knows the URL is accepted; \(account)"
        }
        let headers = tenant.headers.map { header in
            let count = header.values.count
            return "'\(header.name)'" + (count == 1 ? "" : " (any of \(count) values: rotation)")
        }
        return (headers.count == 1 ? "header " : "headers ") + headers.joined(separator: ", ") + " with exact values; "
            + account
    }

    package var setupOverview: String {
        """
        Hellotracks: register the tenant's URL and headers for every webhook key (job_created, job_updated, \
        job_completed, job_archived, job_deleted, alert_triggered) with POST https://api.hellotracks.com/api/\
        setwebhooks (`header`) or PUT https://api.hellotracks.com/v1/webhooks (`headers`), using your API key; \
        ask api@hellotracks.com to enable the check-in/out callbacks for the account.
        """
    }

    package func setup(_ request: VendorSetupRequest) throws(ConfigurationError) -> VendorSetup {
        var headers: [(name: String, value: String)] = []
        var account: String?
        if let existing = request.existing {
            guard let tenant = try makeTenant(existing) as? HellotracksTenant else {
                throw ConfigurationError(line: existing.options.line, "hellotracks tenant could not be read")
            }
            headers = tenant.headers.compactMap { header in header.values.first.map { (header.name, $0) } }
            account = tenant.account
        }
        var entry: String?
        if headers.isEmpty {
            // No header yet: a bearer token, as Hellotracks' own examples show.
            headers = [("Authorization", "Bearer " + request.newSecret())]
            let accountLine =
                account.map { "  account: \(ConfigText.quoted($0))" }
                ?? "  # account: \"<your Hellotracks company account>\"   # refuses callbacks for other accounts"
            entry = """
                - vendor: hellotracks
                  tenant: \(ConfigText.quoted(request.tenant))
                \(accountLine)
                  headers:
                    \(ConfigText.quoted(headers[0].name)): \(ConfigText.quoted(headers[0].value))
                """
            if let window = request.existing?.options["dedupeWindow"]?.scalar {
                entry! += "\n  dedupeWindow: \(ConfigText.quoted(window))"
            }
        }
        let headerObject = JSONValue.object(JSONObject(headers.map { ($0.name, .string($0.value)) }))
        var legacy = JSONObject()
        var rest = JSONObject()
        for key in Self.webhookKeys {
            legacy[key] = .object(["url": .string(request.webhookURL), "header": headerObject])
            rest[key] = .object(["url": .string(request.webhookURL), "headers": headerObject])
        }
        let apiHeaders = [
            VendorSetupField("API-Key", "<your Hellotracks API key>"),
            VendorSetupField("Content-Type", "application/json"),
        ]
        let names = headers.map(\.name).joined(separator: ", ")
        return VendorSetup(
            summary: """
                Hellotracks posts every callback of the account to \(request.webhookURL) as a form (account, id, \
                action, reason, data) with the header(s) \(names). Register it for every webhook key with one of \
                the two calls below (they do the same), then have Hellotracks enable the check-in/out callbacks.
                """,
            steps: [
                VendorSetupStep(
                    title: "Register the webhooks with the /api interface",
                    detail: "The API key is under More -> API & Integrations in Hellotracks. `header` (singular) here.",
                    call: VendorAPICall(
                        method: "POST",
                        url: "https://api.hellotracks.com/api/setwebhooks",
                        headers: apiHeaders,
                        body: .object(["data": .object(legacy)])
                    )
                ),
                VendorSetupStep(
                    title: "… or with the public REST API",
                    detail: "The same registration through /v1/webhooks; `headers` (plural) here.",
                    call: VendorAPICall(
                        method: "PUT",
                        url: "https://api.hellotracks.com/v1/webhooks",
                        headers: apiHeaders,
                        body: .object(["webhooks": .object(rest)])
                    )
                ),
                VendorSetupStep(
                    title: "Ask Hellotracks to enable check-in and check-out callbacks",
                    detail: """
                        Job check-in/out and place check-in/out callbacks (\
                        \(Self.enabledByHellotracks.joined(separator: ", "))) are delivered only when Hellotracks \
                        enables them for the account: write to api@hellotracks.com with the account name, the URL \
                        \(request.webhookURL) and the header name(s) \(names).
                        """
                ),
                VendorSetupStep(
                    title: "Check the registration",
                    detail: """
                        POST https://api.hellotracks.com/api/getwebhooks with {"data": {}} (or GET \
                        https://api.hellotracks.com/v1/webhooks) shows what is registered. Create a job and look for \
                        it with GET /v1/events?vendor=hellotracks&tenant=\(request.tenant) on the gateway.
                        """
                ),
            ],
            tenantEntry: entry,
            generatedSecret: entry != nil,
            notes: [
                "Set the tenant's `account` to the Hellotracks company account username (the form's `account`): a"
                    + " callback for any other account is then refused.",
                "Rotating a header value: give the header a list in fieldgate.yaml, new value first"
                    + " ({Authorization: [\"Bearer new…\", \"Bearer old…\"]}), restart, register the new value with"
                    + " either call above, then drop the old one.",
                "Not confirmed from Hellotracks' documents: whether PUT /v1/webhooks replaces keys it is not given"
                    + " or leaves them as they are (the body above names every key, so either way they end up the"
                    + " same), and how many custom headers one key may carry (the examples show one).",
            ]
        )
    }
}
