import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import Logging

extension Console {
    /// The board: a column per status with its most recently updated jobs, or one list when filtered by status.
    func jobs(_ request: ConsoleRequest) async throws -> Response {
        let query = request.query
        let now = dependencies.clock.now()
        let vendor = query.value("vendor")
        let tenant = query.value("tenant")
        let status = query.value("status").flatMap(JobStatus.init(rawValue:))
        let staleHours = query.value("staleHours").flatMap(Int.init).flatMap { (1...24 * 365).contains($0) ? $0 : nil }
        let updatedBefore = staleHours.map {
            UTCTimestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - Int64($0) * 3_600_000)
        }
        let cursor = query.value("cursor").flatMap(JobCursor.init(text:))
        var columns: [(status: JobStatus, page: JobPage)] = []
        var list: JobPage?
        if let status {
            list = try await stored {
                try await dependencies.store.jobs(
                    JobQuery(
                        vendor: vendor,
                        tenant: tenant,
                        status: status,
                        updatedBefore: updatedBefore,
                        after: cursor,
                        limit: 100
                    )
                )
            }
            _ = list
        } else {
            for status in JobStatus.allCases {
                let page = try await stored {
                    try await dependencies.store.jobs(
                        JobQuery(vendor: vendor, tenant: tenant, status: status, updatedBefore: updatedBefore, limit: 8)
                    )
                }
                if !page.jobs.isEmpty { columns.append((status, page)) }
            }
        }
        let listed = list
        return ConsolePage.render("Jobs", section: .jobs, for: request) { html in
            html.open("form", [Attribute("method", "get"), Attribute("action", "/console/jobs"), .class("filters")])
            select(&html, "vendor", "Vendor", Set(dependencies.configuration.tenants.map(\.vendor)).sorted(), vendor)
            select(&html, "tenant", "Tenant", dependencies.configuration.tenants.map(\.tenant), tenant)
            select(&html, "status", "Latest status", JobStatus.allCases.map(\.rawValue), status?.rawValue)
            html.open("label")
            html.text("Stale for more than (hours)")
            html.open(
                "input",
                [
                    Attribute("type", "number"), Attribute("name", "staleHours"), Attribute("min", "1"),
                    Attribute("max", "8760"), Attribute("value", staleHours.map(String.init)),
                ]
            )
            html.close("label")
            html.element("button", [Attribute("type", "submit")], text: "Show")
            html.link(ConsoleLink("jobs"), "Clear")
            html.close("form")
            let filters: [(String, String?)] = [
                ("vendor", vendor), ("tenant", tenant), ("staleHours", staleHours.map(String.init)),
            ]
            if let listed {
                jobList(&html, listed.jobs, now: now)
                if let next = listed.next {
                    html.element("p", [.class("pager")]) { html in
                        html.link(
                            ConsoleLink(
                                "jobs",
                                query: filters + [("status", status?.rawValue), ("cursor", next.text)]
                            ),
                            "More jobs →"
                        )
                    }
                }
                return
            }
            guard !columns.isEmpty else {
                html.element("p", [.class("muted")], text: "No jobs match.")
                return
            }
            html.open("div", [.class("board"), .id("board")])
            for column in columns {
                html.element("section", [Attribute("aria-label", column.status.rawValue)]) { html in
                    html.element("h2") { html in
                        Self.statusBadge(&html, column.status)
                        html.link(ConsoleLink("jobs", query: filters + [("status", column.status.rawValue)]), "all")
                    }
                    html.open("ul")
                    for job in column.page.jobs {
                        html.element("li") { html in
                            html.link(ConsoleLink("jobs", job.key), job.jobID)
                            html.text(" ")
                            html.element("span", [.class("muted")], text: "\(job.vendor) / \(job.tenant)")
                            html.element(
                                "div",
                                [.class("muted")],
                                text: [job.vendorStatus?.name, "updated " + Display.age(job.updatedAt, now: now)]
                                    .compactMap { $0 }.joined(separator: " · ")
                            )
                        }
                    }
                    html.close("ul")
                    if column.page.next != nil {
                        html.element("p") { html in
                            html.link(
                                ConsoleLink("jobs", query: filters + [("status", column.status.rawValue)]),
                                "more…"
                            )
                        }
                    }
                }
            }
            html.close("div")
        }
    }

    func jobList(_ html: inout HTML, _ jobs: [JobSummary], now: UTCTimestamp) {
        guard !jobs.isEmpty else {
            html.element("p", [.class("muted")], text: "No jobs match.")
            return
        }
        html.open("div", [.class("table-wrap")])
        html.open("table", [.class("stackable"), .id("jobs")])
        html.raw("<thead><tr><th>Job</th><th>Vendor / tenant</th><th>Status</th><th>Vendor status</th>")
        html.raw("<th>Updated</th><th>Last event</th><th class=\"num\">Events</th></tr></thead><tbody>")
        for job in jobs {
            html.open("tr")
            html.element("td", [Attribute("data-label", "Job")]) { html in
                html.link(ConsoleLink("jobs", job.key), job.jobID)
            }
            html.element("td", [Attribute("data-label", "Vendor / tenant")], text: "\(job.vendor) / \(job.tenant)")
            html.element("td", [Attribute("data-label", "Status")]) { html in Self.statusBadge(&html, job.status) }
            html.element(
                "td",
                [Attribute("data-label", "Vendor status")],
                text: [job.vendorStatus?.code, job.vendorStatus?.name].compactMap { $0 }.joined(separator: " ")
            )
            html.element(
                "td",
                [Attribute("data-label", "Updated"), Attribute("title", Display.time(job.updatedAt))],
                text: Display.age(job.updatedAt, now: now)
            )
            html.element("td", [Attribute("data-label", "Last event")], text: Display.time(job.lastEventAt))
            html.element("td", [.class("num"), Attribute("data-label", "Events")], text: String(job.eventCount))
            html.close("tr")
        }
        html.raw("</tbody></table>")
        html.close("div")
    }

    /// A job's timeline: its events in the order they happened, each with what it said.
    func job(_ request: ConsoleRequest, key: String) async throws -> Response {
        let events = try await stored { try await dependencies.store.events(jobKey: key) }
            .sorted { ($0.event.time, $0.sequence) < ($1.event.time, $1.sequence) }
        guard let summary = JobSummary(events: events.map { ($0.event, $0.sequence) }) else {
            throw ConsoleFailure(status: .notFound, "There is no job with this key.")
        }
        let now = dependencies.clock.now()
        return ConsolePage.render("Job \(summary.jobID)", section: .jobs, for: request) { html in
            html.element("section", [.class("card")]) { html in
                html.open("dl", [.class("facts")])
                func fact(_ label: String, _ value: String) {
                    html.element("dt", text: label)
                    html.element("dd", text: value)
                }
                fact("Key", summary.key)
                fact("Vendor / tenant", "\(summary.vendor) / \(summary.tenant)")
                html.element("dt", text: "Latest status")
                html.element("dd") { html in
                    Self.statusBadge(&html, summary.status)
                    if let vendorStatus = summary.vendorStatus {
                        html.text(
                            " " + [vendorStatus.code, vendorStatus.name].compactMap { $0 }.joined(separator: " ")
                        )
                    }
                }
                fact("Updated", "\(Display.time(summary.updatedAt)) (\(Display.age(summary.updatedAt, now: now)))")
                fact("Events", String(summary.eventCount))
                html.close("dl")
                html.element("p") { html in
                    html.link(
                        ConsoleLink("events", query: [("job", summary.key)]),
                        "This job's events in the event list"
                    )
                }
            }
            html.element("h2", text: "Timeline")
            html.open("ol", [.class("timeline"), .id("timeline")])
            for stored in events {
                let event = stored.event
                html.element("li") { html in
                    html.element("div", [.class("when")]) { html in
                        html.text(Display.time(event.time))
                        if event.receivedAt.millisecondsSinceEpoch - event.time.millisecondsSinceEpoch > 60_000 {
                            html.text(" · received \(Display.time(event.receivedAt))")
                        }
                    }
                    html.element("div") { html in
                        html.element("strong", text: event.type.rawValue)
                        html.text(" ")
                        Self.statusBadge(&html, event.job?.status)
                        html.text(" ")
                        html.link(
                            ConsoleLink("events", event.id),
                            "event " + String(event.id.prefix(12)),
                            [.class("id")]
                        )
                    }
                    let facts = EventFacts.facts(event).filter {
                        $0.label != "Status" || event.job?.previousStatus != nil
                    }
                    if !facts.isEmpty {
                        html.open("dl", [.class("facts")])
                        for fact in facts {
                            html.element("dt", text: fact.label)
                            html.element("dd", [.class("quote")], text: fact.value)
                        }
                        html.close("dl")
                    }
                }
            }
            html.close("ol")
        }
    }
}
