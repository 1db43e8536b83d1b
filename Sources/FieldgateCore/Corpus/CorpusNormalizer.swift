import FieldgateModel

/// `fieldgate normalize`: runs corpus requests through the pipeline in order and describes each outcome as one
/// JSON line (CONTRACT §6).
package struct CorpusNormalizer: Sendable {
    package let pipeline: IngestPipeline
    /// Line number of the first accepted copy of each event, for `duplicateOf`.
    private var acceptedLines: [String: Int] = [:]
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
        switch outcome {
        case .accepted(let event):
            acceptedLines[event.id] = number
            tally.accepted += 1
        case .duplicate:
            tally.duplicate += 1
        case .rejected:
            tally.rejected += 1
        }
        let duplicateOf: Int? = if case .duplicate(let original) = outcome { acceptedLines[original.id] } else { nil }
        return NormalizedLine(line: number, outcome: outcome, duplicateOf: duplicateOf)
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

    /// `{"line":N,"http":202,"outcome":…,"id":…,"duplicateOf":…,"event":{…}|null,"problem":{…}|null}`.
    package var jsonBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(1024)
        output.append(contentsOf: #"{"line":"#.utf8)
        output.append(contentsOf: String(line).utf8)
        output.append(contentsOf: #","http":"#.utf8)
        output.append(contentsOf: String(outcome.httpStatus).utf8)
        switch outcome {
        case .accepted(let event), .duplicate(of: let event):
            let name = if case .accepted = outcome { "accepted" } else { "duplicate" }
            output.append(contentsOf: #","outcome":""#.utf8)
            output.append(contentsOf: name.utf8)
            output.append(contentsOf: #"","id":"#.utf8)
            JSONEscaping.appendQuoted(event.id, to: &output)
            output.append(contentsOf: #","duplicateOf":"#.utf8)
            output.append(contentsOf: (duplicateOf.map { String($0) } ?? "null").utf8)
            output.append(contentsOf: #","event":"#.utf8)
            event.write(into: &output)
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
