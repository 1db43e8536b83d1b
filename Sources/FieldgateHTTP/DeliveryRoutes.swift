import FieldgateCore
import FieldgateModel
import Foundation
import Hummingbird

import struct NIOCore.ByteBuffer
import struct NIOCore.NIOTooManyBytesError

/// `/v1/subscribers` and `/v1/deliveries`: who gets events, what was sent, and putting dead letters back.
struct DeliveryRoutes<Context: RequestContext>: Sendable {
    let store: any DeliveryStore
    let clock: any WallClock
    /// `delivery:`: the limit a subscriber's `maxConcurrency` is held to and the network policy its URL is.
    let delivery: GatewayConfiguration.Delivery
    var deliveryLimit: Int { delivery.maxConcurrency }
    /// Tells the delivery engine that something became due.
    let wake: @Sendable () -> Void

    func register(on group: RouterGroup<Context>) {
        group.get("subscribers") { _, _ in try await listSubscribers() }
        group.post("subscribers") { request, _ in try await createSubscriber(request) }
        group.get("subscribers/:id") { _, context in
            show(try await existing(try context.parameters.require("id")))
        }
        group.patch("subscribers/:id") { request, context in
            try await updateSubscriber(try context.parameters.require("id"), request)
        }
        group.delete("subscribers/:id") { _, context in try await deleteSubscriber(try context.parameters.require("id"))
        }
        group.post("subscribers/:id/enable") { _, context in
            try await setEnabled(try context.parameters.require("id"), true)
        }
        group.post("subscribers/:id/disable") { _, context in
            try await setEnabled(try context.parameters.require("id"), false)
        }
        group.post("subscribers/:id/recover") { request, context in
            try await recover(try context.parameters.require("id"), request)
        }
        group.post("subscribers/:id/secret") { request, context in
            try await rotateSecret(try context.parameters.require("id"), request)
        }
        group.get("deliveries") { request, _ in try await listDeliveries(request) }
        group.get("deliveries/:id") { _, context in try await showDelivery(try context.parameters.require("id")) }
        group.post("deliveries/:id/redeliver") { _, context in
            try await redeliver(try context.parameters.require("id"))
        }
    }

    // MARK: Subscribers

    func listSubscribers() async throws -> Response {
        let subscribers = try await storeCall { try await store.subscribers() }
        return .json(.object(["subscribers": .array(subscribers.map { .object(json($0)) })]))
    }

    func existing(_ id: String) async throws -> Subscriber {
        guard let subscriber = try await storeCall({ try await store.subscriber(id: id) }) else {
            throw Problem.resourceNotFound("no subscriber with ID '\(id)'")
        }
        return subscriber
    }

    func show(_ subscriber: Subscriber, status: HTTPResponse.Status = .ok) -> Response {
        .json(.object(json(subscriber)), status: status)
    }

    func createSubscriber(_ request: Request) async throws -> Response {
        let body = try await Self.jsonBody(request)
        guard let id = body["id"]?.stringValue, !id.isEmpty,
            id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") })
        else { throw Problem.invalidSubscriber("id must be a non-empty string without spaces or '/'") }
        guard body["url"] != nil else { throw Problem.invalidSubscriber("url is required") }
        if try await storeCall({ try await store.subscriber(id: id) }) != nil {
            throw Problem(
                .subscriberExists,
                "a subscriber with ID '\(id)' exists; PATCH /v1/subscribers/\(id) changes it"
            )
        }
        var subscriber = Subscriber(
            id: id,
            url: "",
            maxConcurrency: min(Subscriber.defaultMaxConcurrency, deliveryLimit)
        )
        try Self.apply(body, to: &subscriber, delivery: delivery)
        try await storeCall { try await store.saveSubscriber(subscriber) }
        return show(subscriber, status: .created)
    }

    func updateSubscriber(_ id: String, _ request: Request) async throws -> Response {
        var subscriber = try await existing(id)
        let body = try await Self.jsonBody(request)
        // Not a field of a change; a body that repeats the path's own ID (a whole subscriber sent back) is fine.
        if let given = body["id"], given.stringValue != id {
            throw Problem.invalidSubscriber("the id of a subscriber cannot change: leave it out or repeat '\(id)'")
        }
        try Self.apply(body, to: &subscriber, delivery: delivery)
        try await storeCall { try await store.saveSubscriber(subscriber) }
        wake()
        return show(subscriber)
    }

    func setEnabled(_ id: String, _ enabled: Bool) async throws -> Response {
        var subscriber = try await existing(id)
        subscriber.enabled = enabled
        subscriber.disabledReason = enabled ? nil : "disabled through the admin API"
        try await storeCall { try await store.saveSubscriber(subscriber) }
        wake()
        return show(subscriber)
    }

    func deleteSubscriber(_ id: String) async throws -> Response {
        guard try await storeCall({ try await store.deleteSubscriber(id: id) }) else {
            throw Problem.resourceNotFound("no subscriber with ID '\(id)'")
        }
        return Response(status: .noContent)
    }

    func recover(_ id: String, _ request: Request) async throws -> Response {
        _ = try await existing(id)
        let parameters = try QueryParameters(request, allowed: ["since"])
        guard let since = try parameters.timestamp("since") else {
            throw Problem.invalidQuery("since is required: the RFC 3339 time from which to send every event again")
        }
        let queued = try await storeCall { try await store.recover(subscriberID: id, since: since, now: clock.now()) }
        wake()
        return .json(
            .object(["subscriber": .string(id), "since": .string(since.rfc3339()), "queued": .integer(queued)])
        )
    }

    /// `POST /v1/subscribers/{id}/secret`: `secret` signs from now on, and the current secret keeps signing beside it
    /// for `gracePeriod` (default 24 h, 0 to 7 d): every delivery meanwhile carries both signatures, so a receiver
    /// verifying with either keeps accepting. Neither secret is ever returned.
    func rotateSecret(_ id: String, _ request: Request) async throws -> Response {
        let subscriber = try await existing(id)
        let body = try await Self.jsonBody(request)
        if let unknown = body.members.first(where: { !["secret", "gracePeriod"].contains($0.key) }) {
            throw Problem.invalidSubscriber("unknown field '\(unknown.key)' (expected secret, gracePeriod)")
        }
        guard let secret = body["secret"]?.stringValue, SubscriberSecret.isValid(secret) else {
            throw Problem.invalidSubscriber("secret is required: whsec_ followed by a base64 key")
        }
        var gracePeriod = Subscriber.defaultSecretGracePeriod
        if let value = body["gracePeriod"] {
            let text = try Self.durationText(value, "gracePeriod", example: "24h")
            gracePeriod = try Self.bounded { () throws(Bounds.Violation) in
                try Bounds.duration(text, of: "gracePeriod", in: Bounds.secretGracePeriod)
            }
        }
        let rotated = subscriber.rotatingSecret(to: secret, at: clock.now(), gracePeriod: gracePeriod)
        try await storeCall { try await store.saveSubscriber(rotated) }
        return show(rotated)
    }

    /// Applies the writable fields present in `body`; `secret` is write-only (`null` removes it). Values outside
    /// their bounds are refused (422), never stored.
    static func apply(
        _ body: JSONObject,
        to subscriber: inout Subscriber,
        delivery: GatewayConfiguration.Delivery
    )
        throws
    {
        let deliveryLimit = delivery.maxConcurrency
        for (key, value) in body.members {
            switch key {
            case "id": continue
            case "url":
                guard let url = value.stringValue, url.hasPrefix("http://") || url.hasPrefix("https://") else {
                    throw Problem.invalidSubscriber("url must be an http(s) URL")
                }
                if let refusal = delivery.networkPolicy.refusal(forURL: url) {
                    throw Problem(.destinationRefused, "url refused: \(refusal)")
                }
                subscriber.url = url
            case "secret":
                // Replaced at once; `POST /v1/subscribers/{id}/secret` rotates with a grace period instead.
                if value.isNull {
                    subscriber.secret = nil
                } else {
                    guard let secret = value.stringValue, SubscriberSecret.isValid(secret) else {
                        throw Problem.invalidSubscriber("secret must be whsec_ followed by a base64 key")
                    }
                    subscriber.secret = secret
                }
                subscriber.previousSecret = nil
                subscriber.previousSecretExpiresAt = nil
            case "types": subscriber.filter.types = try strings(value, key)
            case "vendors": subscriber.filter.vendors = try strings(value, key)
            case "tenants": subscriber.filter.tenants = try strings(value, key)
            case "statuses":
                let statuses = try strings(value, key)
                if let unknown = statuses.first(where: { JobStatus(rawValue: $0) == nil }) {
                    throw Problem.invalidSubscriber("status '\(unknown)' is not a canonical status")
                }
                subscriber.filter.statuses = statuses
            case "enabled":
                guard case .bool(let enabled) = value else {
                    throw Problem.invalidSubscriber("enabled must be true or false")
                }
                subscriber.enabled = enabled
                subscriber.disabledReason = enabled ? nil : "disabled through the admin API"
            case "retrySchedule":
                let entries = try strings(value, key)
                for entry in entries { _ = try durationText(.string(entry), "retrySchedule entry", example: "5m") }
                subscriber.retrySchedule = try bounded { () throws(Bounds.Violation) in
                    try Subscriber.retrySchedule(entries)
                }
            case "timeout":
                let text = try durationText(value, "timeout", example: "30s")
                subscriber.timeout = try bounded { () throws(Bounds.Violation) in try Subscriber.timeout(text) }
            case "maxConcurrency":
                guard case .number(let number) = value, let text = wholeNumber(number) else {
                    throw Problem.invalidSubscriber("maxConcurrency must be a whole number from 1 to \(deliveryLimit)")
                }
                subscriber.maxConcurrency = try bounded { () throws(Bounds.Violation) in
                    try Subscriber.maxConcurrency(text, deliveryLimit: deliveryLimit)
                }
            default:
                throw Problem.invalidSubscriber("unknown field '\(key)'")
            }
        }
    }

    /// A duration as the document's `Duration` schema states it, `^([0-9]+(ms|s|m|h|d|w))+$`: whole numbers with
    /// units and nothing between them (fieldgate.yaml, read by the same parser, also allows spaces).
    static func durationText(_ value: JSONValue, _ key: String, example: String) throws -> String {
        guard let text = value.stringValue, isDuration(text) else {
            throw Problem.invalidSubscriber("\(key) must be a duration such as \"\(example)\" (ms, s, m, h, d, w)")
        }
        return text
    }

    static func isDuration(_ text: String) -> Bool {
        var bytes = text.utf8[...]
        guard !bytes.isEmpty else { return false }
        while !bytes.isEmpty {
            let digits = bytes.prefix { $0 &- UInt8(ascii: "0") < 10 }
            guard !digits.isEmpty else { return false }
            bytes = bytes.dropFirst(digits.count)
            if bytes.starts(with: "ms".utf8) {
                bytes = bytes.dropFirst(2)
            } else if let unit = bytes.first, "smhdw".utf8.contains(unit) {
                bytes = bytes.dropFirst()
            } else {
                return false
            }
        }
        return true
    }

    /// A JSON number's text as a whole number when its value is one however it is written (`8`, `8.0`, `8e0`), as
    /// JSON Schema's `integer` counts it; nil for a fraction.
    static func wholeNumber(_ text: String) -> String? {
        if text.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 || $0 == UInt8(ascii: "-") }) { return text }
        guard let value = Double(text), value.isFinite, value.rounded() == value, abs(value) < 1e15 else { return nil }
        return String(Int64(value))
    }

    static func strings(_ value: JSONValue, _ key: String) throws -> [String] {
        guard let array = value.arrayValue else { throw Problem.invalidSubscriber("\(key) must be a list of strings") }
        return try array.map { element in
            guard let text = element.stringValue else {
                throw Problem.invalidSubscriber("\(key) must be a list of strings")
            }
            return text
        }
    }

    /// Runs one of ``Bounds``' checks: a malformed value is 400 `invalid-subscriber`, one out of range 422
    /// `out-of-range`.
    static func bounded<Value>(_ read: () throws(Bounds.Violation) -> Value) throws -> Value {
        do {
            return try read()
        } catch {
            throw Problem(bounds: error, malformed: Problem.invalidSubscriber(error.reason))
        }
    }

    /// A subscriber as the admin API shows it: never a secret, only whether there is one and until when the
    /// previous one still signs.
    func json(_ subscriber: Subscriber) -> JSONObject {
        Self.json(subscriber, at: clock.now())
    }

    static func json(_ subscriber: Subscriber, at now: UTCTimestamp) -> JSONObject {
        let grace = subscriber.signingSecrets(at: now).count > 1 ? subscriber.previousSecretExpiresAt : nil
        return [
            "id": .string(subscriber.id),
            "url": .string(subscriber.url),
            "hasSecret": .bool(subscriber.secret != nil),
            "previousSecretExpiresAt": .string(grace?.rfc3339(alwaysMilliseconds: true)),
            "types": .array(subscriber.filter.types.map { .string($0) }),
            "vendors": .array(subscriber.filter.vendors.map { .string($0) }),
            "tenants": .array(subscriber.filter.tenants.map { .string($0) }),
            "statuses": .array(subscriber.filter.statuses.map { .string($0) }),
            "enabled": .bool(subscriber.enabled),
            "disabledReason": .string(subscriber.disabledReason),
            "retrySchedule": .array(subscriber.retrySchedule.map { .string(DurationText.format($0)) }),
            "timeout": .string(DurationText.format(subscriber.timeout)),
            "maxConcurrency": .integer(subscriber.maxConcurrency),
            "origin": .string(subscriber.origin.rawValue),
            "failingSince": .string(subscriber.failingSince?.rfc3339(alwaysMilliseconds: true)),
        ]
    }

    /// The largest JSON body the subscriber operations read.
    static var maximumBodyBytes: Int { 64 * 1024 }

    /// The request's body as a JSON object: sent as `application/json` (else 415), at most 64 KiB (else 413).
    static func jsonBody(_ request: Request) async throws -> JSONObject {
        let mediaType = request.headers[.contentType]?.split(separator: ";", maxSplits: 1).first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard mediaType == "application/json" else {
            throw Problem.unsupportedMediaType(
                mediaType.map { "the body is \($0); send it as application/json" }
                    ?? "the request has no Content-Type; send the body as application/json"
            )
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maximumBodyBytes)
        } catch is NIOTooManyBytesError {
            throw Problem.bodyTooLarge("the body exceeds the limit of \(maximumBodyBytes) bytes")
        }
        guard let object = (try? JSONValue(parsing: Array(buffer.readableBytesView)))?.objectValue else {
            throw Problem.invalidSubscriber("the body must be a JSON object")
        }
        return object
    }

    // MARK: Deliveries

    func listDeliveries(_ request: Request) async throws -> Response {
        let parameters = try QueryParameters(request, allowed: ["subscriber", "state", "event", "limit", "cursor"])
        var query = DeliveryQuery(limit: try parameters.limit())
        query.subscriberID = try parameters.subscriberID("subscriber")
        query.state = try parameters.vocabulary("state", Delivery.State.allCases.map(\.rawValue))
            .flatMap(Delivery.State.init(rawValue:))
        query.eventID = try parameters.eventID("event")
        query.before = try parameters.sequenceCursor()
        let page = try await storeCall { try await store.deliveries(query) }
        return .json(
            .object([
                "deliveries": .array(page.items.map { .object(Self.json($0)) }),
                "nextCursor": AdminRepresentation.cursor(page.nextBefore),
            ])
        )
    }

    func delivery(_ text: String) async throws -> Delivery {
        guard let id = Int64(text), let delivery = try await storeCall({ try await store.delivery(id: id) }) else {
            throw Problem.resourceNotFound("no delivery with ID '\(text)'")
        }
        return delivery
    }

    func showDelivery(_ text: String) async throws -> Response {
        let delivery = try await delivery(text)
        let attempts = try await storeCall { try await store.attempts(deliveryID: delivery.id) }
        var object = Self.json(delivery)
        object.set(
            "attempts",
            .array(
                attempts.map { attempt in
                    var entry: JSONObject = [
                        "at": .string(attempt.at.rfc3339(alwaysMilliseconds: true)),
                        "statusCode": attempt.statusCode.map { .integer($0) } ?? .null,
                        "error": .string(attempt.error),
                        "durationMilliseconds": .integer(attempt.durationMilliseconds),
                        "result": .string(attempt.result.name),
                    ]
                    if case .retry(let at) = attempt.result {
                        entry.set("retryAt", .string(at.rfc3339(alwaysMilliseconds: true)))
                    }
                    return .object(entry)
                }
            )
        )
        return .json(.object(object))
    }

    func redeliver(_ text: String) async throws -> Response {
        let existing = try await delivery(text)
        guard existing.state != .pending else {
            throw Problem(
                .deliveryPending,
                "delivery \(existing.id) is still pending (attempt \(existing.attempts + 1) is due at \(existing.nextAttemptAt))"
            )
        }
        guard let delivery = try await storeCall({ try await store.redeliver(id: existing.id, now: clock.now()) })
        else {
            throw Problem.resourceNotFound("no delivery with ID '\(text)'")
        }
        wake()
        return .json(.object(Self.json(delivery)))
    }

    static func json(_ delivery: Delivery) -> JSONObject {
        [
            "id": .string(String(delivery.id)),
            "eventId": .string(delivery.eventID),
            "subscriber": .string(delivery.subscriberID),
            "jobKey": .string(delivery.jobKey),
            "state": .string(delivery.state.rawValue),
            "attempts": .integer(delivery.attempts),
            "nextAttemptAt": delivery.state == .pending
                ? .string(delivery.nextAttemptAt.rfc3339(alwaysMilliseconds: true)) : .null,
            "lastStatus": delivery.lastStatus.map { .integer($0) } ?? .null,
            "lastError": .string(delivery.lastError),
            "createdAt": .string(delivery.createdAt.rfc3339(alwaysMilliseconds: true)),
            "deliveredAt": .string(delivery.deliveredAt?.rfc3339(alwaysMilliseconds: true)),
        ]
    }
}

extension Problem {
    /// 422 for a value outside its bounds, `malformed` for one that is not a value of its kind at all.
    init(bounds violation: Bounds.Violation, malformed: Problem) {
        switch violation.kind {
        case .malformed: self = malformed
        case .outOfRange:
            self.init(.outOfRange, violation.reason)
        }
    }
}
