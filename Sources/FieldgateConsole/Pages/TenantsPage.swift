import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import Logging

extension Console {
    /// Each tenant's route URLs to paste into the vendor's portal, how it authenticates (never a secret), its
    /// dedupe window, its last event and its authentication failures.
    func tenants(_ request: ConsoleRequest) async throws -> Response {
        let now = dependencies.clock.now()
        let base: PublicURL
        if let configured = dependencies.publicURL {
            base = configured
        } else {
            let host = request.request.head.authority ?? "127.0.0.1"
            let scheme = request.request.headers[.xForwardedProto]?.lowercased() == "https" ? "https" : "http"
            base = (try? PublicURL("\(scheme)://\(host)")) ?? (try! PublicURL("http://127.0.0.1"))
        }
        let check: ConfigurationCheck
        do {
            check = try ConfigurationCheck(
                configuration: dependencies.configuration,
                adapters: dependencies.adapters,
                publicURL: base
            )
        } catch {
            throw ConsoleFailure(status: .internalServerError, "The configuration does not check: \(error)")
        }
        let activity = try await tenantActivity(now: now)
        return ConsolePage.render("Tenants", section: .tenants, for: request) { html in
            html.element(
                "p",
                [.class("muted")],
                text: dependencies.publicURL == nil
                    ? "Route URLs are shown at the address this browser used (\(base.base)); start the gateway with --public-url to show the address vendors reach."
                    : "Route URLs at \(base.base)."
            )
            for tenant in check.tenants {
                let counts = activity.first { $0.vendor == tenant.vendor && $0.tenant == tenant.tenant }
                html.element("section", [.class("card"), Attribute("aria-label", "\(tenant.vendor)/\(tenant.tenant)")])
                {
                    html in
                    html.element("h2") { html in
                        html.text("\(tenant.vendor) / ")
                        html.link(
                            ConsoleLink("events", query: [("vendor", tenant.vendor), ("tenant", tenant.tenant)]),
                            tenant.tenant
                        )
                    }
                    html.open("dl", [.class("facts")])
                    html.element("dt", text: "Routes")
                    html.element("dd") { html in
                        if tenant.routes.isEmpty { html.text("not listed by this vendor's adapter") }
                        for route in tenant.routes {
                            html.element("div") { html in
                                html.text("POST ")
                                html.element("code", [.class("route")], text: route)
                            }
                        }
                    }
                    html.element("dt", text: "Credentials")
                    html.element("dd", text: tenant.credentials)
                    html.element("dt", text: "Dedupe window")
                    html.element("dd", text: DurationText.format(tenant.dedupeWindow))
                    html.element("dt", text: "Last event")
                    html.element(
                        "dd",
                        text: counts?.lastEventAt.map { "\(Display.time($0)) (\(Display.age($0, now: now)))" }
                            ?? "never"
                    )
                    html.element("dt", text: "Auth failures (401)")
                    html.element(
                        "dd",
                        text:
                            "\(counts?.hour[.refused(status: 401)] ?? 0) in the last hour, \(counts?.day[.refused(status: 401)] ?? 0) in the last 24 hours"
                    )
                    html.element("dt", text: "Set up the vendor")
                    html.element("dd") { html in
                        html.element(
                            "code",
                            text:
                                "fieldgate vendor-setup \(tenant.vendor) --tenant \(tenant.tenant) --public-url \(base.base)"
                        )
                    }
                    html.close("dl")
                }
            }
            if let unknown = activity.first(where: { $0.tenant == IngestCount.unknownTenant }) {
                html.element("section", [.class("card")]) { html in
                    html.element("h2", text: "Requests for tenants that are not configured")
                    html.element(
                        "p",
                        text:
                            "\(unknown.vendor): \(unknown.hour[.refused(status: 401)] ?? 0) in the last hour, \(unknown.day[.refused(status: 401)] ?? 0) in the last 24 hours (401 unknown-tenant): a vendor may be calling a misspelt URL."
                    )
                }
            }
        }
    }
}
