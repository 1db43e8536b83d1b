package import FieldgateModel

/// A system that receives canonical events as signed webhooks (CONTRACT §7): billing, a client portal, a board.
package struct Subscriber: Sendable, Equatable {
    package var id: String
    package var url: String
    /// `whsec_<base64 key>`; write-only through the admin API. Nil sends unsigned deliveries.
    package var secret: String?
    /// The secret before the last rotation, still signing beside ``secret`` until ``previousSecretExpiresAt``
    /// (CONTRACT §7 "Secrets rotate"): a receiver verifying with either secret keeps accepting deliveries.
    package var previousSecret: String?
    package var previousSecretExpiresAt: UTCTimestamp?
    package var filter: SubscriberFilter
    /// A disabled subscriber gets no new deliveries and its pending ones wait; `disabledReason` says why.
    package var enabled: Bool
    package var disabledReason: String?
    /// Since when every attempt has failed (cleared by a success, set by the first failure after one): what
    /// `delivery.disableAfter` measures.
    package var failingSince: UTCTimestamp?
    package var retrySchedule: [Duration]
    package var timeout: Duration
    /// At most this many deliveries to this subscriber at once.
    package var maxConcurrency: Int
    /// `config` for subscribers from `fieldgate.yaml` (re-applied at every start), `api` for the admin API's.
    package var origin: Origin

    package enum Origin: String, Sendable {
        case config
        case api
    }

    /// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about a day and a half before a delivery is dead-lettered.
    package static let defaultRetrySchedule: [Duration] = [
        .seconds(5), .seconds(300), .seconds(1800), .seconds(7200), .seconds(18_000), .seconds(36_000),
        .seconds(36_000),
    ]
    package static let defaultTimeout = Duration.seconds(30)
    package static let defaultMaxConcurrency = 8

    package init(
        id: String,
        url: String,
        secret: String? = nil,
        previousSecret: String? = nil,
        previousSecretExpiresAt: UTCTimestamp? = nil,
        filter: SubscriberFilter = SubscriberFilter(),
        enabled: Bool = true,
        disabledReason: String? = nil,
        failingSince: UTCTimestamp? = nil,
        retrySchedule: [Duration] = Subscriber.defaultRetrySchedule,
        timeout: Duration = Subscriber.defaultTimeout,
        maxConcurrency: Int = Subscriber.defaultMaxConcurrency,
        origin: Origin = .api
    ) {
        self.id = id
        self.url = url
        self.secret = secret
        self.previousSecret = previousSecret
        self.previousSecretExpiresAt = previousSecretExpiresAt
        self.filter = filter
        self.enabled = enabled
        self.disabledReason = disabledReason
        self.failingSince = failingSince
        self.retrySchedule = retrySchedule
        self.timeout = timeout
        self.maxConcurrency = maxConcurrency
        self.origin = origin
    }
}

extension Subscriber {
    /// The secrets a delivery at `now` is signed with: the current one, then the previous one during its grace
    /// period.
    package func signingSecrets(at now: UTCTimestamp) -> [String] {
        var secrets: [String] = []
        if let secret { secrets.append(secret) }
        if let previousSecret, let until = previousSecretExpiresAt, now < until, previousSecret != secret {
            secrets.append(previousSecret)
        }
        return secrets
    }

    /// The `disabledReason` of a subscriber that failed for `disableAfter` without a success.
    package static func failingReason(since: UTCTimestamp, disableAfter: Duration) -> String {
        "every attempt failed since \(since.rfc3339()), without a success for \(DurationText.format(disableAfter)) "
            + "(delivery.disableAfter); enable it again once the receiver is fixed"
    }

    /// The subscriber after `POST /v1/subscribers/{id}/secret`: `secret` signs from now on and the current secret
    /// keeps signing beside it for `gracePeriod` (none: it stops at once).
    package func rotatingSecret(to secret: String, at now: UTCTimestamp, gracePeriod: Duration) -> Subscriber {
        var rotated = self
        rotated.secret = secret
        if let current = self.secret, current != secret, gracePeriod > .zero {
            rotated.previousSecret = current
            rotated.previousSecretExpiresAt = UTCTimestamp(
                millisecondsSinceEpoch: now.millisecondsSinceEpoch + gracePeriod.milliseconds
            )
        } else if self.secret != secret {
            rotated.previousSecret = nil
            rotated.previousSecretExpiresAt = nil
        }
        return rotated
    }
}

/// Which events a subscriber wants; an empty list matches everything (CONTRACT §7).
package struct SubscriberFilter: Sendable, Equatable {
    /// Globs over the event type: `job.*`, `*.created`, `job.status_changed`.
    package var types: [String]
    package var vendors: [String]
    package var tenants: [String]
    /// Canonical job statuses; an event without a status matches only an empty list.
    package var statuses: [String]

    package init(types: [String] = [], vendors: [String] = [], tenants: [String] = [], statuses: [String] = []) {
        self.types = types
        self.vendors = vendors
        self.tenants = tenants
        self.statuses = statuses
    }

    package func matches(_ event: CanonicalEvent) -> Bool {
        if !vendors.isEmpty, !vendors.contains(event.vendor) { return false }
        if !tenants.isEmpty, !tenants.contains(event.tenant) { return false }
        if !statuses.isEmpty {
            guard let status = event.job?.status?.rawValue, statuses.contains(status) else { return false }
        }
        if !types.isEmpty, !types.contains(where: { Self.glob($0, matches: event.type.rawValue) }) { return false }
        return true
    }

    /// `*` matches any run of characters (dots included); everything else matches itself.
    static func glob(_ pattern: String, matches text: String) -> Bool {
        let pattern = Array(pattern.utf8)
        let text = Array(text.utf8)
        var p = 0
        var t = 0
        var star: Int?
        var resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                p += 1
                resume = t
            } else if p < pattern.count, pattern[p] == text[t] {
                p += 1
                t += 1
            } else if let star {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

/// `whsec_` followed by a non-empty base64 key (Standard Webhooks).
package enum SubscriberSecret {
    package static func isValid(_ secret: String) -> Bool {
        guard secret.hasPrefix("whsec_") else { return false }
        let key = secret.dropFirst("whsec_".count)
        return !key.isEmpty && key.count % 4 == 0
            && key.utf8.allSatisfy { byte in
                (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
                    || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "=")
            }
    }
}
