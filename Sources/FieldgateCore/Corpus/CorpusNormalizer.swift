package import FieldgateModel

/// `fieldgate normalize`: runs corpus requests through the pipeline in order and describes each outcome as one
/// JSON line (CONTRACT §6).
package struct CorpusNormalizer: Sendable {
    package let pipeline: IngestPipeline
    /// The line and the event of each accepted copy, by event ID: a duplicate names the first copy's line in
    /// `duplicateOf` and prints its event. (The pipeline answers a duplicate with the ID alone; the run saw
    /// every original, so nothing is read back.)
    private var accepted: [String: (line: Int, event: CanonicalEvent)] = [:]
    package private(set) var tally = Tally()

    package struct Tally: Sendable, Equatable {
        package var accepted = 0
        package var duplicate = 0
        package var rejected = 0
        package var invalidLines = 0
    }

    package init(pipeline: IngestPipeline) {
        self.pipeline = pipeline
    }

    /// The result line for corpus line `number`.
    package mutating func normalize(line number: Int, request: CorpusRequest) async throws -> NormalizedLine {
        let outcome = try await pipeline.process(request.inboundRequest)
        var original: (line: Int, event: CanonicalEvent)?
        switch outcome {
        case .accepted(let event):
            accepted[event.id] = (number, event)
            tally.accepted += 1
        case .duplicate(let id):
            original = accepted[id]
            tally.duplicate += 1
        case .rejected:
            tally.rejected += 1
        }
        return NormalizedLine(line: number, outcome: outcome, duplicateOf: original?.line, original: original?.event)
    }

    package mutating func countInvalidLine() {
        tally.invalidLines += 1
    }
}

/// One output line of `fieldgate normalize`.
package struct NormalizedLine: Sendable {
    package var line: Int
    package var outcome: IngestOutcome
    /// For duplicates: the corpus line of the first accepted copy.
    package var duplicateOf: Int?
    /// For duplicates: the first accepted copy's event, when this run accepted it.
    package var original: CanonicalEvent?

    /// `{"line":N,"http":202,"outcome":…,"id":…,"duplicateOf":…,"event":{…}|null,"problem":{…}|null}`.
    package var jsonBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(1024)
        output.append(contentsOf: #"{"line":"#.utf8)
        output.append(contentsOf: String(line).utf8)
        output.append(contentsOf: #","http":"#.utf8)
        output.append(contentsOf: String(outcome.httpStatus).utf8)
        switch outcome {
        case .accepted, .duplicate:
            let (name, id, event): (String, String, CanonicalEvent?) =
                switch outcome {
                case .accepted(let event): ("accepted", event.id, event)
                case .duplicate(let id): ("duplicate", id, original)
                case .rejected: ("rejected", "", nil)
                }
            output.append(contentsOf: #","outcome":""#.utf8)
            output.append(contentsOf: name.utf8)
            output.append(contentsOf: #"","id":"#.utf8)
            JSONEscaping.appendQuoted(id, to: &output)
            output.append(contentsOf: #","duplicateOf":"#.utf8)
            output.append(contentsOf: (duplicateOf.map { String($0) } ?? "null").utf8)
            output.append(contentsOf: #","event":"#.utf8)
            if let event { event.write(into: &output) } else { output.append(contentsOf: "null".utf8) }
            output.append(contentsOf: #","problem":null}"#.utf8)
        case .rejected(let problem, _):
            output.append(
                contentsOf: #","outcome":"rejected","id":null,"duplicateOf":null,"event":null,"problem":"#.utf8
            )
            problem.json.write(into: &output)
            output.append(UInt8(ascii: "}"))
        }
        return output
    }
}
