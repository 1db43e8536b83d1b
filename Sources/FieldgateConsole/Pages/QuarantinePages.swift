import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import Logging

extension Console {
    /// Quarantined requests, newest first, with their reason; select several to replay them at once.
    func quarantine(_ request: ConsoleRequest) async throws -> Response {
        let query = request.query
        var filter = QuarantineQuery(limit: 50)
        filter.vendor = query.value("vendor")
        filter.tenant = query.value("tenant")
        filter.before = query.value("cursor").flatMap(Int64.init)
        let page = try await stored { try await dependencies.store.quarantinedRequests(filter) }
        return ConsolePage.render("Quarantine", section: .quarantine, for: request) { html in
            html.element(
                "p",
                [.class("muted")],
                text:
                    "Requests that passed authentication but were refused (400, 415, 422). Replaying runs a request through today's adapters and tenants."
            )
            html.open(
                "form",
                [Attribute("method", "get"), Attribute("action", "/console/quarantine"), .class("filters")]
            )
            select(
                &html,
                "vendor",
                "Vendor",
                Set(dependencies.configuration.tenants.map(\.vendor)).sorted(),
                filter.vendor
            )
            select(&html, "tenant", "Tenant", dependencies.configuration.tenants.map(\.tenant), filter.tenant)
            html.element("button", [Attribute("type", "submit")], text: "Filter")
            html.close("form")
            guard !page.items.isEmpty else {
                html.element("p", [.class("muted")], text: "Nothing is quarantined.")
                return
            }
            html.open(
                "form",
                [Attribute("method", "post"), Attribute("action", "/console/quarantine/replay"), .id("replay-many")]
            )
            ConsolePage.csrfField(&html, request)
            html.open("div", [.class("actions")])
            html.element("button", [Attribute("type", "submit")], text: "Replay selected")
            html.close("div")
            html.open("div", [.class("table-wrap")])
            html.open("table", [.class("stackable"), .id("quarantine")])
            html.raw("<thead><tr><th><input type=\"checkbox\" id=\"select-all\" aria-label=\"Select all\"></th>")
            html.raw(
                "<th>Received</th><th>Vendor / tenant</th><th>Refused</th><th>Reason</th><th>Replay</th></tr></thead><tbody>"
            )
            for item in page.items {
                html.open("tr")
                html.element("td") { html in
                    html.open(
                        "input",
                        [
                            Attribute("type", "checkbox"), Attribute("name", "id"), Attribute("value", item.id),
                            Attribute("aria-label", "Select \(item.id)"), .flag("disabled", item.replayedAs != nil),
                        ]
                    )
                }
                html.element("td", [Attribute("data-label", "Received")]) { html in
                    html.link(ConsoleLink("quarantine", item.id), Display.time(item.receivedAt))
                }
                html.element(
                    "td",
                    [Attribute("data-label", "Vendor / tenant")],
                    text: "\(item.vendor) / \(item.tenant)"
                )
                html.element(
                    "td",
                    [Attribute("data-label", "Refused")],
                    text: "\(item.problem.status) \(item.problem.code)"
                )
                html.element("td", [Attribute("data-label", "Reason")], text: item.problem.detail)
                html.element("td", [Attribute("data-label", "Replay")]) { html in
                    if let eventID = item.replayedAs {
                        html.text("became ")
                        html.link(ConsoleLink("events", eventID), String(eventID.prefix(12)), [.class("id")])
                    } else {
                        html.text("not replayed")
                    }
                }
                html.close("tr")
            }
            html.raw("</tbody></table>")
            html.close("div")
            html.close("form")
            if let next = page.nextBefore {
                html.element("p", [.class("pager")]) { html in
                    html.link(
                        ConsoleLink(
                            "quarantine",
                            query: [("vendor", filter.vendor), ("tenant", filter.tenant), ("cursor", String(next))]
                        ),
                        "Older requests →"
                    )
                }
            }
        }
    }

    /// One quarantined request: why, the request as stored, and the replay.
    func quarantined(_ request: ConsoleRequest, id: String) async throws -> Response {
        guard let item = try await stored({ try await dependencies.store.quarantinedRequest(id: id) }) else {
            throw ConsoleFailure(status: .notFound, "There is no quarantined request with this ID.")
        }
        return ConsolePage.render("Quarantined request", section: .quarantine, for: request) { html in
            html.element("section", [.class("card")]) { html in
                html.open("dl", [.class("facts")])
                func fact(_ label: String, _ value: String) {
                    html.element("dt", text: label)
                    html.element("dd", text: value)
                }
                fact("ID", item.id)
                fact("Vendor / tenant", "\(item.vendor) / \(item.tenant)")
                fact("Received", Display.time(item.receivedAt))
                fact("Refused", "\(item.problem.status) \(item.problem.code): \(item.problem.title)")
                html.element("dt", text: "Reason")
                html.element("dd", [.class("quote"), .id("reason")], text: item.problem.detail)
                html.element("dt", text: "Replay")
                html.element("dd", [.id("replay-state")]) { html in
                    if let eventID = item.replayedAs {
                        html.text("Replayed \(Display.time(item.replayedAt)) into event ")
                        html.link(ConsoleLink("events", eventID), eventID, [.class("id")])
                    } else {
                        html.text("Not replayed yet.")
                    }
                }
                html.close("dl")
                if item.replayedAs == nil {
                    html.open("div", [.class("actions")])
                    ConsolePage.button(
                        &html,
                        request,
                        action: ConsoleLink("quarantine", item.id, "replay"),
                        label: "Replay"
                    )
                    html.close("div")
                }
            }
            html.element("h2", text: "Request (secrets redacted)")
            Self.rawRequest(&html, item.raw)
        }
    }

    /// Replays each request and shows what each produced.
    func replay(_ request: ConsoleRequest, ids: [String]) async throws -> Response {
        guard !ids.isEmpty else {
            throw ConsoleFailure(status: .badRequest, "Select at least one request to replay.")
        }
        guard ids.count <= 200 else {
            throw ConsoleFailure(status: .badRequest, "Replay at most 200 requests at once.")
        }
        var results: [(id: String, outcome: ReplayOutcome)] = []
        for id in ids {
            let outcome = try await stored { try await dependencies.pipeline.replay(quarantineID: id) }
            results.append((id, outcome))
        }
        dependencies.logger.info("console: replay", metadata: ["count": "\(ids.count)"])
        return ConsolePage.render("Replay results", section: .quarantine, for: request) { html in
            html.open("div", [.class("table-wrap")])
            html.open("table", [.class("stackable"), .id("replay-results")])
            html.raw("<thead><tr><th>Request</th><th>Outcome</th><th>Event</th></tr></thead><tbody>")
            for (id, outcome) in results {
                html.open("tr")
                html.element("td", [Attribute("data-label", "Request")]) { html in
                    html.link(ConsoleLink("quarantine", id), id)
                }
                switch outcome {
                case .accepted, .duplicate:
                    let (accepted, eventID, type): (Bool, String, String?) =
                        switch outcome {
                        case .accepted(let event): (true, event.id, event.type.rawValue)
                        case .duplicate(let id): (false, id, nil)
                        default: (false, "", nil)
                        }
                    html.element(
                        "td",
                        [Attribute("data-label", "Outcome")],
                        text: accepted ? "accepted: a new event" : "duplicate of an event accepted before"
                    )
                    html.element("td", [Attribute("data-label", "Event")]) { html in
                        html.link(
                            ConsoleLink("events", eventID),
                            type.map { "\($0) \(eventID.prefix(12))" } ?? String(eventID.prefix(12))
                        )
                    }
                case .rejected(let problem):
                    html.element(
                        "td",
                        [Attribute("data-label", "Outcome")],
                        text: "still refused: \(problem.status) \(problem.code): \(problem.detail)"
                    )
                    html.element("td", text: "—")
                case .alreadyReplayed(let eventID, _):
                    html.element("td", [Attribute("data-label", "Outcome")], text: "replayed before")
                    html.element("td", [Attribute("data-label", "Event")]) { html in
                        html.link(ConsoleLink("events", eventID), String(eventID.prefix(12)))
                    }
                case .notFound:
                    html.element("td", [Attribute("data-label", "Outcome")], text: "no such quarantined request")
                    html.element("td", text: "—")
                }
                html.close("tr")
            }
            html.raw("</tbody></table>")
            html.close("div")
            html.element("p") { html in html.link(ConsoleLink("quarantine"), "Back to the quarantine") }
        }
    }
}
