import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import Logging

import struct Foundation.Data

extension Console {
    /// Events, newest first, with filters; the first page follows the live stream.
    func events(_ request: ConsoleRequest) async throws -> Response {
        let query = request.query
        var filter = EventQuery(limit: 50)
        filter.vendor = query.value("vendor")
        filter.tenant = query.value("tenant")
        filter.type = query.value("type").flatMap { EventType(rawValue: $0)?.rawValue }
        filter.status = query.value("status").flatMap { JobStatus(rawValue: $0)?.rawValue }
        filter.jobKey = query.value("job")
        filter.since = Display.parseTime(query.value("since"))
        filter.until = Display.parseTime(query.value("until"))
        filter.before = query.value("cursor").flatMap(Int64.init)
        let page = try await stored { try await dependencies.store.events(filter) }
        // Live only where new events belong: the first page, without an upper time bound.
        let live = filter.before == nil && filter.until == nil
        return ConsolePage.render("Events", section: .events, for: request) { html in
            html.open("form", [Attribute("method", "get"), Attribute("action", "/console/events"), .class("filters")])
            select(
                &html,
                "vendor",
                "Vendor",
                Set(dependencies.configuration.tenants.map(\.vendor)).sorted(),
                filter.vendor
            )
            select(&html, "tenant", "Tenant", dependencies.configuration.tenants.map(\.tenant), filter.tenant)
            select(&html, "type", "Type", EventType.allCases.map(\.rawValue), filter.type)
            select(&html, "status", "Status", JobStatus.allCases.map(\.rawValue), filter.status)
            textField(&html, "job", "Job key", filter.jobKey, placeholder: "vendor:tenant:id")
            timeField(&html, "since", "Received from (UTC)", filter.since)
            timeField(&html, "until", "Received before (UTC)", filter.until)
            html.element("button", [Attribute("type", "submit")], text: "Filter")
            html.link(ConsoleLink("events"), "Clear")
            html.close("form")
            if live {
                html.element("p", [.class("live"), .id("live-status"), Attribute("aria-live", "polite")]) { html in
                    html.element("span", [.class("dot")], text: "")
                    html.element("span", text: "Connecting to the live stream…")
                }
                html.element("p", [.class("muted"), .id("live-count")], text: "")
            }
            html.open("div", [.class("table-wrap")])
            html.open("table", [.class("stackable"), .id("events")])
            html.raw("<thead><tr><th>Received</th><th>Vendor / tenant</th><th>Type</th><th>Job</th><th>Status</th>")
            html.raw("<th>Summary</th><th>Event</th></tr></thead>")
            var body: [Attribute] = []
            if live {
                let stream = ConsoleLink(
                    "stream",
                    query: [
                        ("vendors", filter.vendor), ("tenants", filter.tenant), ("types", filter.type),
                        ("statuses", filter.status),
                    ]
                )
                body = [
                    .id("live-events"), Attribute("data-stream", stream.text),
                    Attribute("data-event-types", EventType.allCases.map(\.rawValue).joined(separator: " ")),
                    Attribute("data-job", filter.jobKey),
                ]
            }
            html.open("tbody", body)
            if page.items.isEmpty {
                html.raw("<tr id=\"no-events\"><td colspan=\"7\" class=\"muted\">No events match.</td></tr>")
            }
            for stored in page.items { eventRow(&html, stored.event) }
            html.close("tbody")
            html.close("table")
            html.close("div")
            if let next = page.nextBefore {
                html.element("p", [.class("pager")]) { html in
                    html.link(
                        ConsoleLink(
                            "events",
                            query: [
                                ("vendor", filter.vendor), ("tenant", filter.tenant), ("type", filter.type),
                                ("status", filter.status), ("job", filter.jobKey),
                                ("since", filter.since?.rfc3339()), ("until", filter.until?.rfc3339()),
                                ("cursor", String(next)),
                            ]
                        ),
                        "Older events →"
                    )
                }
            }
        }
    }

    func eventRow(_ html: inout HTML, _ event: CanonicalEvent) {
        html.open("tr")
        html.element("td", [.class("mono"), Attribute("data-label", "Received")], text: Display.time(event.receivedAt))
        html.element("td", [Attribute("data-label", "Vendor / tenant")], text: "\(event.vendor) / \(event.tenant)")
        html.element("td", [Attribute("data-label", "Type")], text: event.type.rawValue)
        html.element("td", [Attribute("data-label", "Job")]) { html in
            if let key = event.job?.key, let id = event.job?.id {
                html.link(ConsoleLink("jobs", key), id)
            } else {
                html.text("—")
            }
        }
        html.element("td", [Attribute("data-label", "Status")]) { html in Self.statusBadge(&html, event.job?.status) }
        html.element("td", [Attribute("data-label", "Summary")], text: EventFacts.summary(event))
        html.element("td", [Attribute("data-label", "Event")]) { html in
            html.link(ConsoleLink("events", event.id), String(event.id.prefix(12)), [.class("id")])
        }
        html.close("tr")
    }

    static func statusBadge(_ html: inout HTML, _ status: JobStatus?) {
        guard let status else { return html.text("—") }
        html.element("span", [.class("badge status-\(status.rawValue)")], text: status.rawValue)
    }

    /// One event: what it says, the canonical event, the request it came from, its deliveries.
    func event(_ request: ConsoleRequest, id: String) async throws -> Response {
        guard let found = try await stored({ try await dependencies.store.event(id: id) }) else {
            throw ConsoleFailure(status: .notFound, "There is no event with this ID.")
        }
        let event = found.event
        let deliveries = try await stored {
            try await dependencies.deliveries?.deliveries(DeliveryQuery(eventID: id, limit: 100)).items ?? []
        }
        let now = dependencies.clock.now()
        return ConsolePage.render("Event \(event.type.rawValue)", section: .events, for: request) { html in
            html.element("section", [.class("card")]) { html in
                html.open("dl", [.class("facts")])
                func fact(_ label: String, _ value: String) {
                    html.element("dt", text: label)
                    html.element("dd", text: value)
                }
                fact("ID", event.id)
                fact("Vendor / tenant", "\(event.vendor) / \(event.tenant)")
                fact("Vendor event", event.vendorEvent)
                fact("Happened", Display.time(event.time))
                fact("Received", Display.time(event.receivedAt))
                if let key = event.job?.key {
                    html.element("dt", text: "Job")
                    html.element("dd") { html in html.link(ConsoleLink("jobs", key), key) }
                }
                for fact in EventFacts.facts(event) {
                    html.element("dt", text: fact.label)
                    html.element("dd", [.class("quote")], text: fact.value)
                }
                html.close("dl")
            }
            html.element("h2", text: "Canonical event")
            html.element("pre", [.id("canonical")], text: (try? JSONValue(parsing: event.jsonBytes).prettyText()) ?? "")
            html.element("h2", text: "Raw request (secrets redacted)")
            Self.rawRequest(&html, found.raw)
            if dependencies.deliveries != nil {
                html.element("h2", text: "Deliveries")
                deliveryTable(&html, request, deliveries, now: now)
            }
        }
    }

    /// The stored request: method, path, headers in arrival order, body as text (or base64 when not UTF-8).
    static func rawRequest(_ html: inout HTML, _ raw: RedactedRequest) {
        html.element("p", [.class("mono")], text: "\(raw.method) \(raw.path)")
        html.open("div", [.class("table-wrap")])
        html.open("table", [.id("raw-headers")])
        html.raw("<thead><tr><th>Header</th><th>Value</th></tr></thead><tbody>")
        for field in raw.headers {
            html.open("tr")
            html.element("td", [.class("mono")], text: field.name)
            html.element("td", [.class("mono")], text: field.value)
            html.close("tr")
        }
        html.raw("</tbody></table>")
        html.close("div")
        if let text = String(validating: raw.body, as: UTF8.self) {
            html.element("h3", text: "Body (\(raw.body.count) bytes)")
            html.element("pre", [.id("raw-body")], text: text)
        } else {
            html.element("h3", text: "Body (\(raw.body.count) bytes, not UTF-8: base64)")
            html.element("pre", [.id("raw-body")], text: Data(raw.body).base64EncodedString())
        }
    }

    // MARK: Filter fields

    func select(_ html: inout HTML, _ name: String, _ label: String, _ options: [String], _ selected: String?) {
        html.open("label")
        html.text(label)
        html.open("select", [Attribute("name", name)])
        html.element("option", [Attribute("value", "")], text: "any")
        var seen: Set<String> = []
        for option in options where seen.insert(option).inserted {
            html.element("option", [Attribute("value", option), .flag("selected", option == selected)], text: option)
        }
        if let selected, !seen.contains(selected) {
            html.element("option", [Attribute("value", selected), .flag("selected", true)], text: selected)
        }
        html.close("select")
        html.close("label")
    }

    func textField(_ html: inout HTML, _ name: String, _ label: String, _ value: String?, placeholder: String? = nil) {
        html.open("label")
        html.text(label)
        html.open(
            "input",
            [
                Attribute("type", "text"), Attribute("name", name), Attribute("value", value),
                Attribute("placeholder", placeholder),
            ]
        )
        html.close("label")
    }

    func timeField(_ html: inout HTML, _ name: String, _ label: String, _ value: UTCTimestamp?) {
        html.open("label")
        html.text(label)
        html.open(
            "input",
            [
                Attribute("type", "datetime-local"), Attribute("name", name),
                Attribute("value", Display.inputTime(value)),
            ]
        )
        html.close("label")
    }
}
