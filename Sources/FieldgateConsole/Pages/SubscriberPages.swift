import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import Logging

import struct Foundation.URLComponents

/// A subscriber with its outbox and how its attempts went over the last day.
struct SubscriberStatus: Sendable {
    var subscriber: Subscriber
    var backlog: DeliveryBacklog?
    var health: DeliveryHealth?
}

/// What the subscriber forms change.
enum SubscriberChange: String, CaseIterable, Sendable {
    case enable, disable, recover
}

extension Console {
    func subscriberHealth(now: UTCTimestamp) async throws -> [SubscriberStatus] {
        guard let deliveries = dependencies.deliveries else { return [] }
        let since = UTCTimestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - 86_400_000)
        let (subscribers, backlog, health) = try await stored {
            (
                try await deliveries.subscribers(), try await deliveries.deliveryBacklog(),
                try await deliveries.deliveryHealth(since: since)
            )
        }
        return subscribers.sorted { $0.id < $1.id }.map { subscriber in
            SubscriberStatus(
                subscriber: subscriber,
                backlog: backlog.first { $0.subscriberID == subscriber.id },
                health: health.first { $0.subscriberID == subscriber.id }
            )
        }
    }

    /// The subscribers table of the overview and the subscribers page.
    func subscriberTable(_ html: inout HTML, _ statuses: [SubscriberStatus], now: UTCTimestamp) {
        guard dependencies.deliveries != nil else {
            html.element("p", [.class("muted")], text: "This gateway's store keeps no subscribers.")
            return
        }
        guard !statuses.isEmpty else {
            html.element(
                "p",
                [.class("muted")],
                text: "No subscribers yet: add them under subscribers: in fieldgate.yaml or with POST /v1/subscribers."
            )
            return
        }
        html.open("div", [.class("table-wrap")])
        html.open("table", [.class("stackable"), .id("subscribers")])
        html.raw("<thead><tr><th>Subscriber</th><th>State</th><th>Filters</th><th class=\"num\">Pending</th>")
        html.raw(
            "<th class=\"num\">Dead</th><th>Oldest pending</th><th>Success, 24 h</th><th>Last error</th></tr></thead><tbody>"
        )
        for status in statuses {
            let subscriber = status.subscriber
            html.open("tr")
            html.element("td", [Attribute("data-label", "Subscriber")]) { html in
                html.link(ConsoleLink("subscribers", subscriber.id), subscriber.id)
                html.element("div", [.class("muted mono")], text: Self.displayedURL(subscriber.url))
            }
            html.element("td", [Attribute("data-label", "State")]) { html in
                Self.subscriberState(&html, subscriber)
            }
            html.element("td", [Attribute("data-label", "Filters")], text: Self.filterText(subscriber.filter))
            html.element(
                "td",
                [.class("num"), Attribute("data-label", "Pending")],
                text: String(status.backlog?.pending ?? 0)
            )
            html.element("td", [.class("num"), Attribute("data-label", "Dead")]) { html in
                let dead = status.backlog?.dead ?? 0
                if dead > 0 {
                    html.link(ConsoleLink("subscribers", subscriber.id, query: [("state", "dead")]), String(dead))
                } else {
                    html.text("0")
                }
            }
            html.element(
                "td",
                [Attribute("data-label", "Oldest pending")],
                text: status.backlog?.oldestPendingSince.map { Display.age($0, now: now) } ?? "—"
            )
            html.element("td", [Attribute("data-label", "Success, 24 h")]) { html in
                let rate = status.health?.successRate
                Charts.meter(&html, rate, label: "success rate \(Display.percent(rate))")
                html.text(" \(Display.percent(rate))")
                if let health = status.health {
                    html.element("div", [.class("muted")], text: "\(health.delivered) of \(health.attempts) attempts")
                }
            }
            html.element("td", [Attribute("data-label", "Last error")]) { html in
                if let health = status.health, let at = health.lastFailureAt {
                    let what = [health.lastFailureStatus.map { "HTTP \($0)" }, health.lastFailureError]
                        .compactMap { $0 }.joined(separator: ": ")
                    html.element("span", [Attribute("title", Display.time(at))], text: Display.age(at, now: now))
                    html.element("div", [.class("muted")], text: what.isEmpty ? "failed" : what)
                } else {
                    html.text("—")
                }
            }
            html.close("tr")
        }
        html.raw("</tbody></table>")
        html.close("div")
    }

    static func subscriberState(_ html: inout HTML, _ subscriber: Subscriber) {
        if subscriber.enabled {
            html.element("span", [.class("badge good")], text: "enabled")
            if let since = subscriber.failingSince {
                html.element("div", [.class("muted")], text: "failing since \(Display.time(since))")
            }
        } else {
            html.element("span", [.class("badge bad")], text: "disabled")
            if let reason = subscriber.disabledReason { html.element("div", [.class("muted")], text: reason) }
        }
    }

    static func filterText(_ filter: SubscriberFilter) -> String {
        var parts: [String] = []
        if !filter.types.isEmpty { parts.append("types " + filter.types.joined(separator: ", ")) }
        if !filter.vendors.isEmpty { parts.append("vendors " + filter.vendors.joined(separator: ", ")) }
        if !filter.tenants.isEmpty { parts.append("tenants " + filter.tenants.joined(separator: ", ")) }
        if !filter.statuses.isEmpty { parts.append("statuses " + filter.statuses.joined(separator: ", ")) }
        return parts.isEmpty ? "every event" : parts.joined(separator: "; ")
    }

    /// A subscriber URL without what could be a secret: user information and the query are not shown.
    static func displayedURL(_ url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host
        else { return "[not a URL]" }
        var text = scheme + "://"
        if components.user != nil || components.password != nil { text += "[redacted]@" }
        text += host
        if let port = components.port { text += ":\(port)" }
        text += components.percentEncodedPath
        if components.query != nil { text += "?[redacted]" }
        return text
    }

    func subscribers(_ request: ConsoleRequest) async throws -> Response {
        let now = dependencies.clock.now()
        let statuses = try await subscriberHealth(now: now)
        return ConsolePage.render("Subscribers", section: .subscribers, for: request) { html in
            subscriberTable(&html, statuses, now: now)
        }
    }

    /// One subscriber: its settings, enable/disable, recover since a time, and its deliveries with their state.
    func subscriber(_ request: ConsoleRequest, id: String) async throws -> Response {
        let deliveries = try requireDeliveries()
        let now = dependencies.clock.now()
        guard let status = try await subscriberHealth(now: now).first(where: { $0.subscriber.id == id }) else {
            throw ConsoleFailure(status: .notFound, "There is no subscriber with this ID.")
        }
        let query = request.query
        let state = query.value("state").flatMap(Delivery.State.init(rawValue:))
        let cursor = query.value("cursor").flatMap(Int64.init)
        let page = try await stored {
            try await deliveries.deliveries(DeliveryQuery(subscriberID: id, state: state, before: cursor, limit: 50))
        }
        let subscriber = status.subscriber
        return ConsolePage.render("Subscriber \(subscriber.id)", section: .subscribers, for: request) { html in
            Self.notice(&html, query.value("done"))
            html.element("section", [.class("card")]) { html in
                html.open("dl", [.class("facts")])
                func fact(_ label: String, _ value: String) {
                    html.element("dt", text: label)
                    html.element("dd", text: value)
                }
                fact("URL", Self.displayedURL(subscriber.url))
                html.element("dt", text: "State")
                html.element("dd") { html in Self.subscriberState(&html, subscriber) }
                fact("Filters", Self.filterText(subscriber.filter))
                fact("Signed", subscriber.secret == nil ? "no (no secret)" : "yes (Standard Webhooks)")
                fact("Retries", subscriber.retrySchedule.map { DurationText.format($0) }.joined(separator: ", "))
                fact("Timeout", DurationText.format(subscriber.timeout))
                fact("Concurrency", String(subscriber.maxConcurrency))
                fact("From", subscriber.origin == .config ? "fieldgate.yaml" : "the admin API")
                fact("Pending / dead", "\(status.backlog?.pending ?? 0) / \(status.backlog?.dead ?? 0)")
                fact(
                    "Success, 24 h",
                    status.health.map {
                        "\(Display.percent($0.successRate)) (\($0.delivered) of \($0.attempts) attempts)"
                    }
                        ?? "no attempts"
                )
                html.close("dl")
                html.open("div", [.class("actions")])
                if subscriber.enabled {
                    ConsolePage.button(
                        &html,
                        request,
                        action: ConsoleLink("subscribers", id, "disable"),
                        label: "Disable",
                        style: "danger"
                    )
                } else {
                    ConsolePage.button(
                        &html,
                        request,
                        action: ConsoleLink("subscribers", id, "enable"),
                        label: "Enable"
                    )
                }
                html.close("div")
                html.open(
                    "form",
                    [
                        Attribute("method", "post"),
                        Attribute("action", ConsoleLink("subscribers", id, "recover").text),
                        .class("filters"),
                    ]
                )
                ConsolePage.csrfField(&html, request)
                html.element("label") { html in
                    html.text("Send again every matching event since (UTC)")
                    html.open(
                        "input",
                        [
                            Attribute("type", "datetime-local"), Attribute("name", "since"), .flag("required", true),
                            Attribute(
                                "value",
                                Display.inputTime(
                                    UTCTimestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - 3_600_000)
                                )
                            ),
                        ]
                    )
                }
                html.element("button", [Attribute("type", "submit"), .class("secondary")], text: "Recover")
                html.close("form")
            }

            html.element("h2", text: "Deliveries")
            html.open("p", [.class("actions")])
            html.text("Show: ")
            for (label, value) in [
                ("all", nil), ("pending", "pending"), ("dead letters", "dead"), ("delivered", "delivered"),
            ] as [(String, String?)] {
                html.link(
                    ConsoleLink("subscribers", id, query: [("state", value)]),
                    label,
                    [Attribute("aria-current", state?.rawValue == value ? "page" : nil)]
                )
            }
            html.close("p")
            deliveryTable(&html, request, page.items, now: now)
            if let next = page.nextBefore {
                html.element("p", [.class("pager")]) { html in
                    html.link(
                        ConsoleLink("subscribers", id, query: [("state", state?.rawValue), ("cursor", String(next))]),
                        "Older deliveries →"
                    )
                }
            }
        }
    }

    func deliveryTable(_ html: inout HTML, _ request: ConsoleRequest, _ deliveries: [Delivery], now: UTCTimestamp) {
        guard !deliveries.isEmpty else {
            html.element("p", [.class("muted")], text: "No deliveries here.")
            return
        }
        html.open("div", [.class("table-wrap")])
        html.open("table", [.class("stackable"), .id("deliveries")])
        html.raw("<thead><tr><th>Delivery</th><th>Event</th><th>Job</th><th>State</th><th class=\"num\">Attempts</th>")
        html.raw("<th>Last result</th><th>Created</th><th></th></tr></thead><tbody>")
        for delivery in deliveries {
            html.open("tr")
            html.element("td", [Attribute("data-label", "Delivery")]) { html in
                html.link(ConsoleLink("deliveries", String(delivery.id)), "#\(delivery.id)")
            }
            html.element("td", [Attribute("data-label", "Event")]) { html in
                html.link(ConsoleLink("events", delivery.eventID), String(delivery.eventID.prefix(12)), [.class("id")])
            }
            html.element("td", [Attribute("data-label", "Job")]) { html in
                if let key = delivery.jobKey { html.link(ConsoleLink("jobs", key), key) } else { html.text("—") }
            }
            html.element("td", [Attribute("data-label", "State")]) { html in
                Self.deliveryState(&html, delivery, now: now)
            }
            html.element("td", [.class("num"), Attribute("data-label", "Attempts")], text: String(delivery.attempts))
            html.element(
                "td",
                [Attribute("data-label", "Last result")],
                text: [delivery.lastStatus.map { "HTTP \($0)" }, delivery.lastError].compactMap { $0 }.joined(
                    separator: ": "
                )
            )
            html.element("td", [Attribute("data-label", "Created")], text: Display.time(delivery.createdAt))
            html.element("td") { html in
                if delivery.state != .pending {
                    ConsolePage.button(
                        &html,
                        request,
                        action: ConsoleLink("deliveries", String(delivery.id), "redeliver"),
                        label: "Redeliver",
                        style: "secondary"
                    )
                }
            }
            html.close("tr")
        }
        html.raw("</tbody></table>")
        html.close("div")
    }

    static func deliveryState(_ html: inout HTML, _ delivery: Delivery, now: UTCTimestamp) {
        switch delivery.state {
        case .delivered:
            html.element("span", [.class("badge good")], text: "delivered")
        case .dead:
            html.element("span", [.class("badge bad")], text: "dead letter")
        case .pending:
            html.element("span", [.class("badge warn")], text: "pending")
            html.element(
                "div",
                [.class("muted")],
                text: "next attempt \(Display.age(delivery.nextAttemptAt, now: now))"
            )
        }
    }

    /// A delivery with every attempt.
    func delivery(_ request: ConsoleRequest, id text: String) async throws -> Response {
        let deliveries = try requireDeliveries()
        guard let id = Int64(text), let delivery = try await stored({ try await deliveries.delivery(id: id) }) else {
            throw ConsoleFailure(status: .notFound, "There is no delivery with this ID.")
        }
        let attempts = try await stored { try await deliveries.attempts(deliveryID: id) }
        let now = dependencies.clock.now()
        let query = request.query
        return ConsolePage.render("Delivery #\(delivery.id)", section: .subscribers, for: request) { html in
            Self.notice(&html, query.value("done"))
            html.element("section", [.class("card")]) { html in
                html.open("dl", [.class("facts")])
                html.element("dt", text: "Subscriber")
                html.element("dd") { html in
                    html.link(ConsoleLink("subscribers", delivery.subscriberID), delivery.subscriberID)
                }
                html.element("dt", text: "Event")
                html.element("dd") { html in
                    html.link(ConsoleLink("events", delivery.eventID), delivery.eventID, [.class("id")])
                }
                html.element("dt", text: "Job")
                html.element("dd") { html in
                    if let key = delivery.jobKey { html.link(ConsoleLink("jobs", key), key) } else { html.text("—") }
                }
                html.element("dt", text: "State")
                html.element("dd") { html in Self.deliveryState(&html, delivery, now: now) }
                html.element("dt", text: "Created")
                html.element("dd", text: Display.time(delivery.createdAt))
                html.element("dt", text: "Delivered")
                html.element("dd", text: Display.time(delivery.deliveredAt))
                html.close("dl")
                if delivery.state != .pending {
                    html.open("div", [.class("actions")])
                    ConsolePage.button(
                        &html,
                        request,
                        action: ConsoleLink("deliveries", String(delivery.id), "redeliver"),
                        label: delivery.state == .dead ? "Redeliver this dead letter" : "Deliver again"
                    )
                    html.close("div")
                }
            }
            html.element("h2", text: "Attempts")
            guard !attempts.isEmpty else {
                html.element("p", [.class("muted")], text: "No attempt yet.")
                return
            }
            html.open("div", [.class("table-wrap")])
            html.open("table", [.class("stackable"), .id("attempts")])
            html.raw(
                "<thead><tr><th>#</th><th>At</th><th>Status</th><th>Error</th><th class=\"num\">Duration</th><th>Result</th></tr></thead><tbody>"
            )
            for (index, attempt) in attempts.enumerated() {
                html.open("tr")
                html.element("td", [Attribute("data-label", "#")], text: String(index + 1))
                html.element("td", [Attribute("data-label", "At")], text: Display.time(attempt.at))
                html.element(
                    "td",
                    [Attribute("data-label", "Status")],
                    text: attempt.statusCode.map { "HTTP \($0)" } ?? "—"
                )
                html.element("td", [Attribute("data-label", "Error")], text: attempt.error ?? "")
                html.element(
                    "td",
                    [.class("num"), Attribute("data-label", "Duration")],
                    text: "\(attempt.durationMilliseconds) ms"
                )
                var result = attempt.result.name
                if case .retry(let at) = attempt.result { result += " at \(Display.time(at))" }
                html.element("td", [Attribute("data-label", "Result")], text: result)
                html.close("tr")
            }
            html.raw("</tbody></table>")
            html.close("div")
        }
    }

    // MARK: Actions

    func changeSubscriber(_ request: ConsoleRequest, id: String, _ change: SubscriberChange) async throws -> Response {
        let deliveries = try requireDeliveries()
        guard var subscriber = try await stored({ try await deliveries.subscriber(id: id) }) else {
            throw ConsoleFailure(status: .notFound, "There is no subscriber with this ID.")
        }
        let done: String
        switch change {
        case .enable, .disable:
            subscriber.enabled = change == .enable
            subscriber.disabledReason = change == .enable ? nil : "disabled in the console"
            try await stored { try await deliveries.saveSubscriber(subscriber) }
            done = change == .enable ? "enabled" : "disabled"
        case .recover:
            guard let since = Display.parseTime(request.form.value("since")) else {
                throw ConsoleFailure(status: .badRequest, "Give the time to recover from, such as 2026-10-26T21:00.")
            }
            let queued = try await stored {
                try await deliveries.recover(subscriberID: id, since: since, now: dependencies.clock.now())
            }
            done = "recovered-\(queued)"
        }
        dependencies.wakeDeliveries()
        dependencies.logger.info("console: subscriber \(change.rawValue)", metadata: ["subscriber": "\(id)"])
        return .redirect(to: ConsoleLink("subscribers", id, query: [("done", done)]).text, type: .normal)
    }

    func redeliver(_ request: ConsoleRequest, id text: String) async throws -> Response {
        let deliveries = try requireDeliveries()
        guard let id = Int64(text), let existing = try await stored({ try await deliveries.delivery(id: id) }) else {
            throw ConsoleFailure(status: .notFound, "There is no delivery with this ID.")
        }
        guard existing.state != .pending else {
            throw ConsoleFailure(status: .conflict, "Delivery #\(id) is still pending: it is attempted again anyway.")
        }
        _ = try await stored { try await deliveries.redeliver(id: id, now: dependencies.clock.now()) }
        dependencies.wakeDeliveries()
        dependencies.logger.info("console: redeliver", metadata: ["delivery": "\(id)"])
        return .redirect(
            to: ConsoleLink("deliveries", String(id), query: [("done", "redelivered")]).text,
            type: .normal
        )
    }

    /// The confirmation of an action that redirected here; only fixed texts, never text from the URL.
    static func notice(_ html: inout HTML, _ done: String?) {
        guard let done else { return }
        let message: String
        switch done {
        case "enabled": message = "Enabled: its pending deliveries go out again."
        case "disabled": message = "Disabled: nothing is sent to it until it is enabled again."
        case "redelivered": message = "Back to pending: it is sent again now."
        default:
            if done.hasPrefix("recovered-"), let count = Int(done.dropFirst("recovered-".count)) {
                message = "Queued \(count) event\(count == 1 ? "" : "s") again."
            } else {
                return
            }
        }
        html.element("p", [.class("notice"), Attribute("role", "status")], text: message)
    }
}
