package import FieldgateModel
import Synchronization

/// An ``EventStore`` in process memory: for `fieldgate normalize`, tests and benchmarks. Nothing survives a restart.
package final class InMemoryEventStore: EventStore, StoreChangeAnnouncing {
    package let changes = StoreChanges()

    struct KeyRecord {
        var eventID: String
        var expiresAt: UTCTimestamp
        var occurrences: Int
    }

    struct State {
        var keys: [String: KeyRecord] = [:]
        var events: [String: StoredEvent] = [:]
        /// Acceptance order, oldest first.
        var eventOrder: [String] = []
        var quarantined: [QuarantinedRequest] = []
        var jobs: [String: JobSummary] = [:]
        var ingestCounts: [IngestCount: Int] = [:]
        var nextSequence: Int64 = 1
    }

    private let state = Mutex(State())

    package init() {}

    package func insertIfNew(_ candidate: EventCandidate) async throws -> InsertOutcome {
        let outcome = state.withLock { state in Self.insertIfNew(candidate, in: &state) }
        if case .inserted = outcome { changes.publish(.events) }
        return outcome
    }

    static func insertIfNew(_ candidate: EventCandidate, in state: inout State) -> InsertOutcome {
        let now = candidate.event.receivedAt
        var occurrence = 1
        if let record = state.keys[candidate.key.digest] {
            if now < record.expiresAt, let original = state.events[record.eventID] {
                return .duplicate(id: original.event.id)
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
        state.events[event.id] = StoredEvent(event: event, raw: candidate.raw, sequence: state.nextSequence)
        state.eventOrder.append(event.id)
        if let key = event.job?.key {
            state.jobs[key] =
                state.jobs[key]?.applying(event, sequence: state.nextSequence)
                ?? JobSummary(first: event, sequence: state.nextSequence)
        }
        state.nextSequence += 1
        return .inserted(event)
    }

    package func insertReplay(
        _ candidate: EventCandidate,
        quarantineID: String,
        at instant: UTCTimestamp
    ) async throws -> ReplayInsertOutcome {
        let outcome = state.withLock { state -> ReplayInsertOutcome in
            guard let index = state.quarantined.firstIndex(where: { $0.id == quarantineID }) else { return .notFound }
            if let eventID = state.quarantined[index].replayedAs {
                return .alreadyReplayed(eventID: eventID, at: state.quarantined[index].replayedAt)
            }
            let outcome = Self.insertIfNew(candidate, in: &state)
            state.quarantined[index].replayedAs = outcome.eventID
            state.quarantined[index].replayedAt = instant
            return .replayed(outcome)
        }
        if case .replayed(.inserted) = outcome { changes.publish(.events) }
        return outcome
    }

    package func deleteEvents(receivedBefore instant: UTCTimestamp, now: UTCTimestamp, limit: Int) async throws -> Int {
        state.withLock { state in
            // The latest acceptance of a key that still counts is what answers its duplicates.
            let needed = Set(state.keys.values.filter { now < $0.expiresAt }.map(\.eventID))
            var deleted: Set<String> = []
            for id in state.eventOrder where deleted.count < limit {
                guard let stored = state.events[id], stored.event.receivedAt < instant, !needed.contains(id) else {
                    continue
                }
                deleted.insert(id)
            }
            var jobKeys: Set<String> = []
            for id in deleted {
                if let key = state.events[id]?.event.job?.key { jobKeys.insert(key) }
                state.events[id] = nil
            }
            state.eventOrder.removeAll { deleted.contains($0) }
            for key in jobKeys {
                state.jobs[key] = JobSummary(
                    events: state.events.values.filter { $0.event.job?.key == key }.map { ($0.event, $0.sequence) }
                )
            }
            return deleted.count
        }
    }

    package func deleteQuarantinedRequests(receivedBefore instant: UTCTimestamp, limit: Int) async throws -> Int {
        state.withLock { state in
            let old = state.quarantined.enumerated().filter { $0.element.receivedAt < instant }
                .sorted { $0.element.receivedAt < $1.element.receivedAt }.prefix(limit).map(\.offset)
            for index in old.sorted(by: >) { state.quarantined.remove(at: index) }
            return old.count
        }
    }

    package func quarantine(_ request: QuarantinedRequest) async throws {
        state.withLock { state in
            var request = request
            request.sequence = state.nextSequence
            state.nextSequence += 1
            state.quarantined.append(request)
        }
    }

    package func event(id: String) async throws -> StoredEvent? {
        state.withLock { $0.events[id] }
    }

    package func purgeExpiredKeys(before instant: UTCTimestamp) async throws -> Int {
        state.withLock { state in
            let expired = state.keys.filter { $0.value.expiresAt <= instant }.map(\.key)
            for key in expired { state.keys[key] = nil }
            return expired.count
        }
    }

    package func events(_ query: EventQuery) async throws -> Page<StoredEvent> {
        state.withLock { state in
            var fetched: [StoredEvent] = []
            for id in state.eventOrder.reversed() {
                guard let stored = state.events[id], query.matches(stored) else { continue }
                fetched.append(stored)
                if fetched.count > query.limit { break }
            }
            return Page(fetched: fetched, limit: query.limit, sequence: \.sequence)
        }
    }

    package func events(after sequence: Int64, limit: Int) async throws -> [StoredEvent] {
        state.withLock { state in
            var found: [StoredEvent] = []
            for id in state.eventOrder where found.count < limit {
                if let stored = state.events[id], stored.sequence > sequence { found.append(stored) }
            }
            return found
        }
    }

    package func events(jobKey: String) async throws -> [StoredEvent] {
        state.withLock { state in
            state.eventOrder.compactMap { state.events[$0] }.filter { $0.event.job?.key == jobKey }
        }
    }

    package func jobs(_ query: JobQuery) async throws -> JobPage {
        state.withLock { state in
            let fetched = state.jobs.values.filter(query.matches).sorted { JobCursor($1) < JobCursor($0) }
            return JobPage(fetched: Array(fetched.prefix(query.limit + 1)), limit: query.limit)
        }
    }

    package func quarantinedRequests(_ query: QuarantineQuery) async throws -> Page<QuarantinedRequest> {
        state.withLock { state in
            let fetched = state.quarantined.reversed().filter(query.matches).prefix(query.limit + 1)
            return Page(fetched: Array(fetched), limit: query.limit, sequence: \.sequence)
        }
    }

    package func quarantinedRequest(id: String) async throws -> QuarantinedRequest? {
        state.withLock { state in state.quarantined.first { $0.id == id } }
    }

    package func checkWritable() async throws {}

    /// Everything quarantined so far, oldest first.
    package var quarantined: [QuarantinedRequest] {
        state.withLock { $0.quarantined }
    }

    package var eventCount: Int {
        state.withLock { $0.events.count }
    }
}

extension InMemoryEventStore: IngestCountStore {
    package func addIngestCounts(_ counts: [IngestCount]) async throws {
        state.withLock { state in
            for count in counts {
                var key = count
                key.count = 0
                state.ingestCounts[key, default: 0] += count.count
            }
        }
    }

    package func ingestCounts(sinceMinute minute: Int64) async throws -> [IngestCount] {
        state.withLock { state in
            state.ingestCounts.filter { $0.key.minute >= minute }.map { entry in
                var count = entry.key
                count.count = entry.value
                return count
            }
        }
    }

    package func deleteIngestCounts(beforeMinute minute: Int64) async throws -> Int {
        state.withLock { state in
            let old = state.ingestCounts.keys.filter { $0.minute < minute }
            for key in old { state.ingestCounts[key] = nil }
            return old.count
        }
    }
}
