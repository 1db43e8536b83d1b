import ArgumentParser
import FieldgateCore
import FieldgatePostgres
import FieldgateSQLite
import Logging
import Synchronization

import class Foundation.FileManager

/// `fieldgate store`: move an installation between stores.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Move an installation from one store to another, and check the result.",
        subcommands: [StoreCopyCommand.self]
    )
}

/// `fieldgate store copy --from sqlite:PATH --to postgres://…`: what a single gateway wrote, into the shared store.
struct StoreCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a SQLite store into PostgreSQL (resumable), then compare both table by table.",
        discussion: """
            Moves subscribers (secrets and health included), events with their raw requests and dedupe keys, \
            quarantined requests, and every delivery with its attempts; rows keep their numbers, so a vendor's \
            retry after the switch is still a duplicate and pending deliveries go out from the new instances. \
            Stop the gateway first: nothing may write the SQLite file while it is copied.

            The copy can be run again after an interruption: it continues after the last row the target has. \
            The target must be empty or an earlier copy of the same file. It ends by reading both stores again \
            and printing, per table, the rows and a SHA-256 over them on each side; any difference makes the \
            exit status 1. --verify-only runs that comparison alone.
            """
    )

    @Option(help: ArgumentHelp("The store to copy: sqlite:PATH.", valueName: "sqlite:path"))
    var from: String

    @Option(help: ArgumentHelp("The PostgreSQL database to copy into (a storage.postgres URL).", valueName: "url"))
    var to: String

    @Option(help: "Rows per batch.")
    var batchSize = 500

    @Flag(help: "Compare the two stores without copying.")
    var verifyOnly = false

    func validate() throws {
        guard from.hasPrefix("sqlite:"), from.count > "sqlite:".count else {
            throw ValidationError("--from must be sqlite:PATH")
        }
        guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1 to 10000") }
    }

    func run() async throws {
        let path = String(from.dropFirst("sqlite:".count))
        guard FileManager.default.fileExists(atPath: path) else {
            printError("fieldgate: no SQLite store at '\(path)'")
            throw ExitCode(2)
        }
        let url: PostgresURL
        do {
            url = try PostgresURL(parsing: to)
        } catch {
            printError("fieldgate: --to: \(error.reason)")
            throw ExitCode(2)
        }
        var logger = Logger(label: "fieldgate")
        logger.logLevel = .warning
        let source: SQLiteEventStore
        let target: PostgresEventStore
        do {
            source = try SQLiteEventStore(path: path)
            target = try PostgresEventStore(url: url, logger: logger)
        } catch {
            printError("fieldgate: \(error)")
            throw ExitCode(2)
        }
        let matched = try await withThrowingTaskGroup(of: Void.self) { group -> Bool in
            group.addTask { try await target.run() }
            defer { group.cancelAll() }
            do {
                try await target.prepare()
                let copy = StoreCopy(
                    from: source,
                    named: "sqlite:\(path)",
                    to: target,
                    batchSize: batchSize,
                    progress: ProgressLine().report
                )
                if !verifyOnly {
                    printError("copying \(path) into \(url)")
                    try await copy.run()
                }
                printError("comparing both stores")
                return Self.print(try await copy.verify())
            } catch let error as ExitCode {
                throw error
            } catch {
                printError("fieldgate: \(error)")
                throw ExitCode(1)
            }
        }
        if !matched { throw ExitCode(1) }
    }

    /// The comparison as a table on standard output; true when every table matches.
    static func print(_ checks: [StoreCopy.TableCheck]) -> Bool {
        var lines = ["table        source rows  target rows  match  checksum (SHA-256)"]
        for check in checks {
            let name = check.table.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
            let source = String(check.sourceRows).leftPadded(to: 11)
            let target = String(check.targetRows).leftPadded(to: 11)
            let checksum =
                check.matches ? check.sourceChecksum : "\(check.sourceChecksum) ≠ \(check.targetChecksum)"
            lines.append("\(name)  \(source)  \(target)  \(check.matches ? "yes  " : "NO   ")  \(checksum)")
        }
        let matched = checks.allSatisfy(\.matches)
        lines.append(matched ? "the stores match" : "the stores DIFFER")
        printOutput(lines.joined(separator: "\n"))
        return matched
    }
}

/// Progress on standard error: a line when a table starts, at most one a second while it goes, and its last.
private final class ProgressLine: Sendable {
    private struct State {
        var printed: (table: StoreTable, copied: Int)?
        var printedAt = ContinuousClock.now
    }

    private let state = Mutex(State())

    func report(_ progress: StoreCopy.Progress) {
        let print = state.withLock { state -> Bool in
            let now = ContinuousClock.now
            let due =
                state.printed?.table != progress.table || progress.copied >= progress.total
                || now - state.printedAt >= .seconds(1)
            guard due, state.printed?.table != progress.table || state.printed?.copied != progress.copied else {
                return false
            }
            state.printed = (progress.table, progress.copied)
            state.printedAt = now
            return true
        }
        guard print else { return }
        let percent = progress.total == 0 ? 100 : min(100, progress.copied * 100 / progress.total)
        printError("  \(progress.table.rawValue): \(progress.copied) of \(progress.total) (\(percent) %)")
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
