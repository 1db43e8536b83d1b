import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import Testing

/// The rule `fieldgate serve` applies at every start: the store's configured subscribers follow `fieldgate.yaml`
/// without forgetting what receivers and operators did since.
@Suite("Configured subscribers")
struct ConfiguredSubscribersTests {
    static let oldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let newSecret = "whsec_c2VjcmV0LWFmdGVyLXJvdGF0aW9u"
    static let start = StoreSamples.start
    static let later = UTCTimestamp(millisecondsSinceEpoch: start.millisecondsSinceEpoch + 3_600_000)

    static func configured(_ id: String, secret: String? = nil, types: [String] = []) -> Subscriber {
        Subscriber(id: id, url: "https://\(id).example/hooks", secret: secret, filter: SubscriberFilter(types: types))
    }

    @Test(arguments: DeliveryStoreKind.available)
    func theFileIsAppliedAndWhatTheStoreLearnedStays(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([Subscriber(id: "manual", url: "https://manual.example/")]) { store in
            #expect(
                try await store.applyConfiguredSubscribers(
                    [Self.configured("billing", secret: Self.oldSecret), Self.configured("gone")],
                    at: Self.start
                ).isEmpty
            )
            let billing = try #require(try await store.subscriber(id: "billing"))
            #expect(billing.origin == .config)
            #expect(billing.secret == Self.oldSecret)

            // A receiver disabled one, and another has been failing; the file changes a filter.
            var gone = try #require(try await store.subscriber(id: "gone"))
            gone.enabled = false
            gone.disabledReason = "the receiver answered 410 Gone"
            try await store.saveSubscriber(gone)
            var failing = billing
            failing.failingSince = Self.start
            try await store.saveSubscriber(failing)
            try await store.applyConfiguredSubscribers(
                [Self.configured("billing", secret: Self.oldSecret, types: ["job.*"]), Self.configured("gone")],
                at: Self.later
            )
            let reapplied = try #require(try await store.subscriber(id: "billing"))
            #expect(reapplied.filter.types == ["job.*"])
            #expect(reapplied.failingSince == Self.start)
            #expect(reapplied.previousSecret == nil, "the same secret is no rotation")
            let stillGone = try #require(try await store.subscriber(id: "gone"))
            #expect(!stillGone.enabled)
            #expect(stillGone.disabledReason == "the receiver answered 410 Gone")
            // Subscribers of the admin API are not the file's business.
            #expect(try await store.subscriber(id: "manual")?.origin == .api)
            #expect(try await store.subscriber(id: "manual")?.enabled == true)
        }
    }

    @Test(arguments: DeliveryStoreKind.available)
    func aSubscriberThatLeavesTheFileIsDisabledAndComesBackEnabled(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore { store async throws in
            try await store.applyConfiguredSubscribers([Self.configured("a"), Self.configured("b")], at: Self.start)
            #expect(try await store.applyConfiguredSubscribers([Self.configured("a")], at: Self.start) == ["b"])
            let removed = try #require(try await store.subscriber(id: "b"))
            #expect(!removed.enabled)
            #expect(removed.disabledReason == Subscriber.removedFromConfigurationReason)
            #expect(try await store.applyConfiguredSubscribers([Self.configured("a")], at: Self.start).isEmpty)
            try await store.applyConfiguredSubscribers([Self.configured("a"), Self.configured("b")], at: Self.start)
            let back = try #require(try await store.subscriber(id: "b"))
            #expect(back.enabled)
            #expect(back.disabledReason == nil)
        }
    }

    /// A new secret in the file is a rotation: the stored one signs beside it for the grace period.
    @Test(arguments: DeliveryStoreKind.available)
    func aNewSecretInTheFileRotatesWithAGracePeriod(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore { store async throws in
            try await store.applyConfiguredSubscribers(
                [Self.configured("billing", secret: Self.oldSecret)],
                at: Self.start
            )
            try await store.applyConfiguredSubscribers(
                [Self.configured("billing", secret: Self.newSecret)],
                at: Self.later
            )
            let rotated = try #require(try await store.subscriber(id: "billing"))
            #expect(rotated.secret == Self.newSecret)
            #expect(rotated.previousSecret == Self.oldSecret)
            let expiry = UTCTimestamp(millisecondsSinceEpoch: Self.later.millisecondsSinceEpoch + 86_400_000)
            #expect(rotated.previousSecretExpiresAt == expiry)
            #expect(rotated.signingSecrets(at: Self.later) == [Self.newSecret, Self.oldSecret])
            #expect(rotated.signingSecrets(at: expiry) == [Self.newSecret])
            // Restarting with the same file changes nothing.
            try await store.applyConfiguredSubscribers([Self.configured("billing", secret: Self.newSecret)], at: expiry)
            #expect(try await store.subscriber(id: "billing") == rotated)
        }
    }
}
