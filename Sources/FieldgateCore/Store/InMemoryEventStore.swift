public import FieldgateModel
import Synchronization

/// An ``EventStore`` in process memory: for `fieldgate normalize`, tests and benchmarks. Nothing survives a restart.
public final class InMemoryEventStore: EventStore {
    struct KeyRecord {
        var eventID: String
        var expiresAt: UTCTimestamp
        var occurrences: Int
    }

    struct State {
        var keys: [String: KeyRecord] = [:]
        var events: [String: StoredEvent] = [:]
        var quarantined: [QuarantinedRequest] = []
    }

    private let state = Mutex(State())

    public init() {}

    public func insertIfNew(_ candidate: EventCandidate) async throws -> InsertOutcome {
        state.withLock { state in
            let now = candidate.event.receivedAt
            var occurrence = 1
            if let record = state.keys[candidate.key.digest] {
                if now < record.expiresAt, let original = state.events[record.eventID] {
                    return .duplicate(of: original.event)
                }
                occurrence = record.occurrences + 1
            }
            var event = candidate.event
            event.id = candidate.key.eventID(occurrence: occurrence)
            // A purged key forgets its count; the stored events still know which IDs are taken.
            while state.events[event.id] != nil {
                occurrence += 1
                event.id = candidate.key.eventID(occurrence: occurrence)
            }
            state.keys[candidate.key.digest] = KeyRecord(
                eventID: event.id,
                expiresAt: candidate.keyExpiresAt,
                occurrences: occurrence
            )
            state.events[event.id] = StoredEvent(event: event, raw: candidate.raw)
            return .inserted(event)
        }
    }

    public func quarantine(_ request: QuarantinedRequest) async throws {
        state.withLock { $0.quarantined.append(request) }
    }

    public func event(id: String) async throws -> StoredEvent? {
        state.withLock { $0.events[id] }
    }

    public func purgeExpiredKeys(before instant: UTCTimestamp) async throws -> Int {
        state.withLock { state in
            let expired = state.keys.filter { $0.value.expiresAt <= instant }.map(\.key)
            for key in expired { state.keys[key] = nil }
            return expired.count
        }
    }

    /// Everything quarantined so far, oldest first.
    public var quarantined: [QuarantinedRequest] {
        state.withLock { $0.quarantined }
    }

    public var eventCount: Int {
        state.withLock { $0.events.count }
    }
}
