import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import Logging

/// What the overview shows per vendor and tenant.
struct TenantActivity: Sendable {
    var vendor: String
    var tenant: String
    var hour: [IngestCount.Outcome: Int] = [:]
    var day: [IngestCount.Outcome: Int] = [:]
    var minutes: [Charts.Bucket] = []
    var hours: [Charts.Bucket] = []
    var lastEventAt: UTCTimestamp?

    var displayName: String { tenant == IngestCount.unknownTenant ? "(unknown tenants)" : tenant }

    /// The refusal classes the overview has a column for; the rest is "other".
    static let refusalColumns: [(status: Int, title: String)] = [
        (401, "401 auth"), (413, "413 too large"), (415, "415 media type"), (400, "400 malformed"),
        (422, "422 unusable"),
    ]

    static func other(_ counts: [IngestCount.Outcome: Int]) -> Int {
        counts.filter { outcome, _ in
            guard let status = outcome.refusalStatus else { return false }
            return !refusalColumns.contains { $0.status == status }
        }.values.reduce(0, +)
    }
}

extension Console {
    /// Per tenant over the last hour and day: what came in and how it ended, when the last event was; and how
    /// deliveries are doing.
    func overview(_ request: ConsoleRequest) async throws -> Response {
        let now = dependencies.clock.now()
        let activity = try await tenantActivity(now: now)
        let subscribers = try await subscriberHealth(now: now)
        return ConsolePage.render("Overview", section: .overview, for: request) { html in
            html.element("h2", text: "Ingest by vendor and tenant")
            html.element(
                "p",
                [.class("muted")],
                text:
                    "Counts are “last hour / last 24 hours”. A tenant without an accepted event in the last hour is highlighted."
            )
            if dependencies.counts == nil {
                html.element("p", [.class("notice error")], text: "This store keeps no ingest counts.")
            }
            html.element("div", [.class("legend")]) { html in
                html.element("span", [.class("accepted")], text: "accepted")
                html.element("span", [.class("duplicate")], text: "duplicates")
                html.element("span", [.class("rejected")], text: "refused")
            }
            html.open("div", [.class("table-wrap")])
            html.open("table", [.class("stackable"), .id("ingest")])
            html.raw("<thead><tr><th>Vendor / tenant</th><th>Last event</th><th>Last hour</th><th>Last 24 h</th>")
            html.raw("<th class=\"num\">Accepted</th><th class=\"num\">Duplicates</th>")
            for column in TenantActivity.refusalColumns {
                html.element("th", [.class("num")], text: column.title)
            }
            html.raw("<th class=\"num\">Other</th><th class=\"num\">Quarantined</th></tr></thead>\n<tbody>")
            for tenant in activity {
                let quiet =
                    tenant.lastEventAt.map { now.millisecondsSinceEpoch - $0.millisecondsSinceEpoch > 3_600_000 }
                    ?? true
                html.open("tr", [.class(quiet ? "quiet" : nil)])
                html.element("td", [Attribute("data-label", "Tenant")]) { html in
                    html.element("strong", text: tenant.vendor)
                    html.text(" / ")
                    if tenant.tenant == IngestCount.unknownTenant {
                        html.text(tenant.displayName)
                    } else {
                        html.link(
                            ConsoleLink("events", query: [("vendor", tenant.vendor), ("tenant", tenant.tenant)]),
                            tenant.tenant
                        )
                    }
                }
                html.element("td", [Attribute("data-label", "Last event")]) { html in
                    if let last = tenant.lastEventAt {
                        html.element(
                            "span",
                            [Attribute("title", Display.time(last))],
                            text: Display.age(last, now: now)
                        )
                    } else {
                        html.text("never")
                    }
                    if quiet, tenant.tenant != IngestCount.unknownTenant {
                        html.text(" ")
                        html.element("span", [.class("badge warn")], text: "quiet")
                    }
                }
                html.element("td", [Attribute("data-label", "Last hour")]) { html in
                    Charts.outcomes(
                        &html,
                        tenant.minutes,
                        label: "\(tenant.vendor)/\(tenant.displayName), last hour per minute"
                    )
                }
                html.element("td", [Attribute("data-label", "Last 24 h")]) { html in
                    Charts.outcomes(
                        &html,
                        tenant.hours,
                        label: "\(tenant.vendor)/\(tenant.displayName), last 24 hours per hour"
                    )
                }
                func pair(_ outcome: IngestCount.Outcome, _ label: String) {
                    html.element(
                        "td",
                        [.class("num"), Attribute("data-label", label)],
                        text: "\(tenant.hour[outcome] ?? 0) / \(tenant.day[outcome] ?? 0)"
                    )
                }
                pair(.accepted, "Accepted")
                pair(.duplicate, "Duplicates")
                for column in TenantActivity.refusalColumns { pair(.refused(status: column.status), column.title) }
                html.element(
                    "td",
                    [.class("num"), Attribute("data-label", "Other")],
                    text: "\(TenantActivity.other(tenant.hour)) / \(TenantActivity.other(tenant.day))"
                )
                pair(.quarantined, "Quarantined")
                html.close("tr")
            }
            html.raw("</tbody></table>")
            html.close("div")

            html.element("h2", text: "Delivery health")
            subscriberTable(&html, subscribers, now: now)
        }
    }

    /// Every configured tenant (and any tenant counts were kept for), with its counts and last event.
    func tenantActivity(now: UTCTimestamp) async throws -> [TenantActivity] {
        let currentMinute = IngestCount.minute(of: now)
        let firstMinute = currentMinute - 24 * 60 + 1
        let counts =
            try await stored { try await dependencies.counts?.ingestCounts(sinceMinute: firstMinute) ?? [] }
            + (dependencies.tally?.pending() ?? []).filter { $0.minute >= firstMinute }
        var activity: [String: TenantActivity] = [:]
        var order: [String] = []
        func key(_ vendor: String, _ tenant: String) -> String { vendor + "\n" + tenant }
        func entry(_ vendor: String, _ tenant: String) -> String {
            let id = key(vendor, tenant)
            if activity[id] == nil {
                var fresh = TenantActivity(vendor: vendor, tenant: tenant)
                fresh.minutes = (0..<60).map { offset in
                    Charts.Bucket(label: Display.time(Self.instant(minute: currentMinute - 59 + Int64(offset))))
                }
                fresh.hours = (0..<24).map { offset in
                    Charts.Bucket(
                        label: "hour from "
                            + Display.time(Self.instant(minute: currentMinute - 24 * 60 + 1 + Int64(offset) * 60))
                    )
                }
                activity[id] = fresh
                order.append(id)
            }
            return id
        }
        for tenant in dependencies.configuration.tenants { _ = entry(tenant.vendor, tenant.tenant) }
        for count in counts.sorted(by: { ($0.vendor, $0.tenant) < ($1.vendor, $1.tenant) }) {
            let id = entry(count.vendor, count.tenant)
            activity[id]?.day[count.outcome, default: 0] += count.count
            let age = currentMinute - count.minute
            if age < 60 { activity[id]?.hour[count.outcome, default: 0] += count.count }
            func add(_ bucket: inout Charts.Bucket) {
                switch count.outcome {
                case .accepted: bucket.accepted += count.count
                case .duplicate: bucket.duplicates += count.count
                case .quarantined: break
                default: bucket.rejected += count.count
                }
            }
            if age < 60 { add(&activity[id]!.minutes[Int(59 - age)]) }
            let hourIndex = Int((count.minute - firstMinute) / 60)
            if (0..<24).contains(hourIndex) { add(&activity[id]!.hours[hourIndex]) }
        }
        for id in order {
            guard let entry = activity[id], entry.tenant != IngestCount.unknownTenant else { continue }
            let latest = try await stored {
                try await dependencies.store.events(EventQuery(vendor: entry.vendor, tenant: entry.tenant, limit: 1))
            }
            activity[id]?.lastEventAt = latest.items.first?.event.receivedAt
        }
        return order.compactMap { activity[$0] }
    }

    static func instant(minute: Int64) -> UTCTimestamp {
        UTCTimestamp(millisecondsSinceEpoch: minute * 60_000)
    }
}
