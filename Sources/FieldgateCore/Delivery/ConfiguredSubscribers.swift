package import FieldgateModel

extension Subscriber {
    /// How long the secret before a rotation keeps signing beside the new one (CONTRACT §7): 24 hours.
    package static let defaultSecretGracePeriod = Duration.seconds(86_400)

    /// The `disabledReason` of a configured subscriber that is no longer in `fieldgate.yaml`.
    package static let removedFromConfigurationReason = "removed from the configuration file"
}

extension DeliveryStore {
    /// Makes the store's configured subscribers match `fieldgate.yaml`; the gateway runs it at every start.
    ///
    /// The file is the truth for what it says: filters, URL, schedule, limits. What the store learned since stays:
    /// a subscriber that a receiver disabled (410 Gone, `delivery.disableAfter`) or the admin API disabled stays
    /// disabled with its reason, and its failing streak is kept. A new secret in the file is a rotation: the stored
    /// one keeps signing beside it for ``Subscriber/defaultSecretGracePeriod``. A configured subscriber that left the
    /// file is disabled ("removed from the configuration file"), not deleted, so its deliveries stay readable, and
    /// it is enabled again if it comes back.
    ///
    /// - Returns: the IDs of the subscribers this disabled because they left the file.
    @discardableResult
    package func applyConfiguredSubscribers(_ configured: [Subscriber], at now: UTCTimestamp) async throws -> [String] {
        let existing = Dictionary(try await subscribers().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for entry in configured {
            var subscriber = entry
            subscriber.origin = .config
            if let previous = existing[subscriber.id] {
                if !previous.enabled, previous.disabledReason != Subscriber.removedFromConfigurationReason {
                    subscriber.enabled = false
                    subscriber.disabledReason = previous.disabledReason
                }
                subscriber.failingSince = previous.failingSince
                if let secret = entry.secret {
                    // From the stored secret to the file's: a rotation when they differ, nothing when they agree.
                    subscriber.secret = previous.secret
                    subscriber.previousSecret = previous.previousSecret
                    subscriber.previousSecretExpiresAt = previous.previousSecretExpiresAt
                    subscriber = subscriber.rotatingSecret(
                        to: secret,
                        at: now,
                        gracePeriod: Subscriber.defaultSecretGracePeriod
                    )
                }
            }
            try await saveSubscriber(subscriber)
        }
        let named = Set(configured.map(\.id))
        var removed: [String] = []
        for subscriber in existing.values.sorted(by: { $0.id < $1.id })
        where subscriber.origin == .config && !named.contains(subscriber.id)
            && subscriber.disabledReason != Subscriber.removedFromConfigurationReason
        {
            var gone = subscriber
            gone.enabled = false
            gone.disabledReason = Subscriber.removedFromConfigurationReason
            try await saveSubscriber(gone)
            removed.append(subscriber.id)
        }
        return removed
    }
}
