import Crypto
package import FieldgateModel

/// The tables `fieldgate store copy` moves, in the order it moves them.
package enum StoreTable: String, CaseIterable, Sendable {
    case subscribers
    case events
    case quarantine
    case deliveries
    case attempts
}

/// An event row as a copy moves it: the event, its raw request, its number and its dedupe state.
package struct ExportedEvent: Sendable, Equatable {
    package var stored: StoredEvent
    /// Set on the latest acceptance of a key until the key's window ends and the purge clears it.
    package var keyExpiresAt: UTCTimestamp?
    /// Set on an earlier acceptance of a key: retention keeps it until then (the walk along the key's IDs).
    package var chainExpiresAt: UTCTimestamp?

    package init(stored: StoredEvent, keyExpiresAt: UTCTimestamp?, chainExpiresAt: UTCTimestamp?) {
        self.stored = stored
        self.keyExpiresAt = keyExpiresAt
        self.chainExpiresAt = chainExpiresAt
    }
}

/// A delivery attempt with its position in the store (attempts have no ID of their own).
package struct ExportedAttempt: Sendable, Equatable {
    package var position: Int64
    package var attempt: DeliveryAttempt

    package init(position: Int64, attempt: DeliveryAttempt) {
        self.position = position
        self.attempt = attempt
    }
}

/// A store that hands out every row of every table in key order: the source of a copy, and either side of its
/// verification. Keys are the store's own numbers (event and quarantine sequence, delivery ID, attempt position),
/// which a copy keeps.
package protocol StoreExporting: Sendable {
    func exportSubscribers() async throws -> [Subscriber]
    func exportEvents(after sequence: Int64, limit: Int) async throws -> [ExportedEvent]
    func exportQuarantine(after sequence: Int64, limit: Int) async throws -> [QuarantinedRequest]
    func exportDeliveries(after id: Int64, limit: Int) async throws -> [Delivery]
    func exportAttempts(after position: Int64, limit: Int) async throws -> [ExportedAttempt]
    /// Rows per table.
    func exportCounts() async throws -> [StoreTable: Int]
}

/// A store a copy writes into. Rows keep their keys, so a copy that stopped resumes after the highest key the
/// target has, and writing a row that is already there changes nothing.
package protocol StoreImporting: StoreExporting {
    /// Refuses a target that holds rows of something other than an earlier copy from `source`; records `source`.
    func beginImport(from source: String) async throws
    func importSubscribers(_ subscribers: [Subscriber]) async throws
    func importEvents(_ events: [ExportedEvent]) async throws
    func importQuarantine(_ requests: [QuarantinedRequest]) async throws
    func importDeliveries(_ deliveries: [Delivery]) async throws
    func importAttempts(_ attempts: [ExportedAttempt]) async throws
    /// The highest key of each table (0 when empty): where a resumed copy starts.
    func importPositions() async throws -> [StoreTable: Int64]
    /// Makes the target's own numbering continue after the copied rows.
    func finishImport() async throws
}

/// Moves one store's rows into another, resumably, and proves the result: rows and a SHA-256 per table on both
/// sides, computed over the same canonical form of each row.
package struct StoreCopy: Sendable {
    package struct Progress: Sendable {
        package var table: StoreTable
        package var copied: Int
        package var total: Int
    }

    package struct TableCheck: Sendable, Equatable {
        package var table: StoreTable
        package var sourceRows: Int
        package var targetRows: Int
        package var sourceChecksum: String
        package var targetChecksum: String
        package var matches: Bool { sourceRows == targetRows && sourceChecksum == targetChecksum }
    }

    let source: any StoreExporting
    let target: any StoreImporting
    let sourceName: String
    let batchSize: Int
    let progress: @Sendable (Progress) -> Void

    package init(
        from source: any StoreExporting,
        named sourceName: String,
        to target: any StoreImporting,
        batchSize: Int = 500,
        progress: @escaping @Sendable (Progress) -> Void = { _ in }
    ) {
        self.source = source
        self.sourceName = sourceName
        self.target = target
        self.batchSize = batchSize
        self.progress = progress
    }

    /// Copies every table; rows the target already has (an earlier, interrupted run) are skipped.
    package func run() async throws {
        try await target.beginImport(from: sourceName)
        let totals = try await source.exportCounts()
        let positions = try await target.importPositions()
        func report(_ table: StoreTable, _ copied: Int) {
            progress(Progress(table: table, copied: copied, total: totals[table] ?? 0))
        }

        let subscribers = try await source.exportSubscribers()
        try await target.importSubscribers(subscribers)
        report(.subscribers, subscribers.count)

        try await copy(.events, from: positions[.events] ?? 0, report) { after in
            let rows = try await source.exportEvents(after: after, limit: batchSize)
            try await target.importEvents(rows)
            return (rows.count, rows.last?.stored.sequence)
        }
        try await copy(.quarantine, from: positions[.quarantine] ?? 0, report) { after in
            let rows = try await source.exportQuarantine(after: after, limit: batchSize)
            try await target.importQuarantine(rows)
            return (rows.count, rows.last?.sequence)
        }
        try await copy(.deliveries, from: positions[.deliveries] ?? 0, report) { after in
            let rows = try await source.exportDeliveries(after: after, limit: batchSize)
            try await target.importDeliveries(rows)
            return (rows.count, rows.last?.id)
        }
        try await copy(.attempts, from: positions[.attempts] ?? 0, report) { after in
            let rows = try await source.exportAttempts(after: after, limit: batchSize)
            try await target.importAttempts(rows)
            return (rows.count, rows.last?.position)
        }
        try await target.finishImport()
    }

    /// Copies batches from `start` until a batch comes back short; reports the rows the target holds.
    private func copy(
        _ table: StoreTable,
        from start: Int64,
        _ report: (StoreTable, Int) -> Void,
        batch: (Int64) async throws -> (count: Int, last: Int64?)
    ) async throws {
        var after = start
        var copied = try await target.exportCounts()[table] ?? 0
        report(table, copied)
        while true {
            try Task.checkCancellation()
            let (count, last) = try await batch(after)
            copied += count
            if count > 0 { report(table, copied) }
            guard count == batchSize, let last else { return }
            after = last
        }
    }

    /// Rows and checksums of every table on both sides.
    package func verify() async throws -> [TableCheck] {
        async let sourceDigests = Self.digests(of: source, batchSize: batchSize)
        async let targetDigests = Self.digests(of: target, batchSize: batchSize)
        let (sources, targets) = try await (sourceDigests, targetDigests)
        return StoreTable.allCases.map { table in
            TableCheck(
                table: table,
                sourceRows: sources[table]?.rows ?? 0,
                targetRows: targets[table]?.rows ?? 0,
                sourceChecksum: sources[table]?.checksum ?? "",
                targetChecksum: targets[table]?.checksum ?? ""
            )
        }
    }

    /// Every table read in key order, each row hashed in its canonical form.
    package static func digests(
        of store: any StoreExporting,
        batchSize: Int = 500
    ) async throws -> [StoreTable: (rows: Int, checksum: String)] {
        var result: [StoreTable: (rows: Int, checksum: String)] = [:]
        var digest = RowDigest()
        for subscriber in try await store.exportSubscribers().sorted(by: { $0.id < $1.id }) {
            digest.add(subscriber)
        }
        result[.subscribers] = digest.finish()

        digest = RowDigest()
        var after: Int64 = 0
        while true {
            let rows = try await store.exportEvents(after: after, limit: batchSize)
            for row in rows { digest.add(row) }
            guard let last = rows.last, rows.count == batchSize else { break }
            after = last.stored.sequence
        }
        result[.events] = digest.finish()

        digest = RowDigest()
        after = 0
        while true {
            let rows = try await store.exportQuarantine(after: after, limit: batchSize)
            for row in rows { digest.add(row) }
            guard let last = rows.last, rows.count == batchSize else { break }
            after = last.sequence
        }
        result[.quarantine] = digest.finish()

        digest = RowDigest()
        after = 0
        while true {
            let rows = try await store.exportDeliveries(after: after, limit: batchSize)
            for row in rows { digest.add(row) }
            guard let last = rows.last, rows.count == batchSize else { break }
            after = last.id
        }
        result[.deliveries] = digest.finish()

        digest = RowDigest()
        after = 0
        while true {
            let rows = try await store.exportAttempts(after: after, limit: batchSize)
            for row in rows { digest.add(row) }
            guard let last = rows.last, rows.count == batchSize else { break }
            after = last.position
        }
        result[.attempts] = digest.finish()
        return result
    }
}

/// SHA-256 over rows written field by field, each field length-prefixed so that no two rows share a form.
struct RowDigest {
    private var hasher = SHA256()
    private var rows = 0

    mutating func finish() -> (rows: Int, checksum: String) {
        (rows, hasher.finalize().withUnsafeBytes { Hex.encode($0) })
    }

    private mutating func field(_ bytes: [UInt8]) {
        var length = UInt64(bytes.count).bigEndian
        withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
    }

    private mutating func field(_ text: String?) {
        guard let text else { return field([0xFF]) }
        field(Array(text.utf8))
    }

    private mutating func field(_ number: Int64?) { field(number.map { String($0) }) }

    private mutating func raw(_ raw: RedactedRequest) {
        field(raw.method)
        field(raw.path)
        field(StoredJSON.encode(raw.headers))
        field(raw.body)
    }

    mutating func add(_ subscriber: Subscriber) {
        rows += 1
        field(subscriber.id)
        field(subscriber.url)
        field(subscriber.secret)
        field(subscriber.previousSecret)
        field(subscriber.previousSecretExpiresAt?.millisecondsSinceEpoch)
        field(subscriber.failingSince?.millisecondsSinceEpoch)
        for list in [
            subscriber.filter.types, subscriber.filter.vendors, subscriber.filter.tenants, subscriber.filter.statuses,
        ] {
            field(StoredJSON.encode(list))
        }
        field(subscriber.enabled ? "enabled" : "disabled")
        field(subscriber.disabledReason)
        field(StoredJSON.encode(subscriber.retrySchedule.map { String($0.milliseconds) }))
        field(subscriber.timeout.milliseconds)
        field(Int64(subscriber.maxConcurrency))
        field(subscriber.origin.rawValue)
    }

    mutating func add(_ row: ExportedEvent) {
        rows += 1
        field(row.stored.sequence)
        field(row.stored.event.jsonBytes)
        raw(row.stored.raw)
        field(row.keyExpiresAt?.millisecondsSinceEpoch)
        field(row.chainExpiresAt?.millisecondsSinceEpoch)
    }

    mutating func add(_ request: QuarantinedRequest) {
        rows += 1
        field(request.sequence)
        field(request.id)
        field(request.vendor)
        field(request.tenant)
        field(request.routeSuffix)
        raw(request.raw)
        field(request.problem.code.rawValue)
        field(Int64(request.problem.status))
        field(request.problem.title)
        field(request.problem.detail)
        field(request.receivedAt.millisecondsSinceEpoch)
        field(request.replayedAs)
        field(request.replayedAt?.millisecondsSinceEpoch)
    }

    mutating func add(_ delivery: Delivery) {
        rows += 1
        field(delivery.id)
        field(delivery.eventID)
        field(delivery.subscriberID)
        field(delivery.jobKey)
        field(delivery.state.rawValue)
        field(Int64(delivery.attempts))
        field(delivery.nextAttemptAt.millisecondsSinceEpoch)
        field(delivery.lastStatus.map(Int64.init))
        field(delivery.lastError)
        field(delivery.createdAt.millisecondsSinceEpoch)
        field(delivery.deliveredAt?.millisecondsSinceEpoch)
    }

    mutating func add(_ row: ExportedAttempt) {
        rows += 1
        let attempt = row.attempt
        field(row.position)
        field(attempt.deliveryID)
        field(attempt.at.millisecondsSinceEpoch)
        field(attempt.statusCode.map(Int64.init))
        field(attempt.error)
        field(attempt.durationMilliseconds)
        field(attempt.result.name)
        if case .retry(let at) = attempt.result { field(at.millisecondsSinceEpoch) } else { field(nil as Int64?) }
    }
}
