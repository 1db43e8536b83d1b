import Synchronization
package import Testing

import struct Foundation.Data
import class Foundation.FileHandle
import class Foundation.FileManager
import class Foundation.Pipe
import class Foundation.Process
import class Foundation.ProcessInfo
import class Foundation.Thread
import struct Foundation.URL

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL server for tests, started by the test process itself — no manual step, no shared server.
///
/// The first use runs `initdb` once into a temporary folder (as the `postgres` user when the tests run as root,
/// since PostgreSQL refuses to run as root); every server is a copy of that cluster on a free loopback port, without
/// a Unix socket. Each server runs under a small watchdog whose standard input is a pipe from this process: when
/// the test process ends — normally, by a failed expectation or by SIGKILL — the pipe closes and the watchdog stops
/// PostgreSQL, and a janitor removes the folder, so no server and no cluster outlives the tests.
///
/// ``shared`` is one server per test process, with a fresh database per test (``makeDatabase()``); a test that
/// stops and restarts PostgreSQL starts a server of its own (``start()``).
///
/// Whether the suites run: the server binaries are looked for in `FIELDGATE_POSTGRES_BIN`, the newest
/// `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package) and `PATH`. Without them the PostgreSQL tests are
/// skipped with a comment that says so — unless `FIELDGATE_POSTGRES_TESTS=required` (set by `.ci/run`), which turns
/// their absence into a failure. This follows postgres-nio's integration tests, which find their database through
/// environment variables.
package final class PostgresTestServer: Sendable {
    /// Set to `required` in CI: a missing server fails the PostgreSQL tests instead of skipping them.
    package static let requiredVariable = "FIELDGATE_POSTGRES_TESTS"

    package let port: Int
    package let root: String
    private let watchdog: Mutex<Watchdog?>
    private let databaseCount = Mutex(0)

    private struct Watchdog: @unchecked Sendable {
        let process: Process
        let input: FileHandle
    }

    // MARK: Availability

    /// Where `initdb`, `postgres` and `psql` are, or why the PostgreSQL tests cannot run here.
    package static let binaries: Result<String, TestSupportError> = locateBinaries()

    /// True when the PostgreSQL tests should run: the binaries are there, or CI requires them (and then a missing
    /// binary fails the test loudly instead of skipping it).
    package static var shouldRun: Bool {
        if case .success = binaries { return true }
        return isRequired
    }

    package static var isRequired: Bool {
        ProcessInfo.processInfo.environment[requiredVariable] == "required"
    }

    /// The comment on the PostgreSQL suites' `.enabled(if:)` trait, shown when they are skipped. (A trait's
    /// comment is fixed at compile time; ``skipReason`` says what is missing and is printed once on stderr.)
    package static var skipComment: Comment {
        if case .failure = binaries, !isRequired, !announcedSkip.exchange(true, ordering: .relaxed) {
            FileHandle.standardError.write(
                Array("fieldgate: \(skipReason)\n".utf8).withUnsafeBufferPointer { Data($0) }
            )
        }
        return
            "SKIPPED: no PostgreSQL server binaries here (Debian's postgresql package); FIELDGATE_POSTGRES_TESTS=required makes this a failure"
    }

    private static let announcedSkip = Atomic(false)

    /// Why the PostgreSQL tests cannot run here.
    package static var skipReason: String {
        switch binaries {
        case .success: "PostgreSQL server binaries found"
        case .failure(let error):
            "SKIPPED: PostgreSQL tests need the server binaries (\(error)); install Debian's postgresql package, or set "
                + "\(requiredVariable)=required to make this a failure"
        }
    }

    private static func locateBinaries() -> Result<String, TestSupportError> {
        let fileManager = FileManager.default
        var candidates: [String] = []
        if let override = ProcessInfo.processInfo.environment["FIELDGATE_POSTGRES_BIN"] { candidates.append(override) }
        let debian = "/usr/lib/postgresql"
        let versions = ((try? fileManager.contentsOfDirectory(atPath: debian)) ?? []).compactMap(Int.init).sorted()
        candidates += versions.reversed().map { "\(debian)/\($0)/bin" }
        candidates += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in candidates
        where ["initdb", "postgres", "psql", "pg_isready"].allSatisfy({
            fileManager.isExecutableFile(atPath: "\(directory)/\($0)")
        }) {
            return .success(directory)
        }
        return .failure(TestSupportError("initdb, postgres, psql and pg_isready not found in \(candidates.prefix(3))"))
    }

    // MARK: Servers

    /// One server for the whole test process, started on first use.
    package static func shared() async throws -> PostgresTestServer {
        try await SharedServer.instance.get()
    }

    /// A server of its own (for tests that stop and restart it), stopped when ``remove()`` is called or the test
    /// process ends.
    package static func start() async throws -> PostgresTestServer {
        let bin = try binaries.get()
        let template = try await Template.instance.get()
        let workspace = try await Workspace.instance.get()
        let root = try await detached { try makeFolder(in: workspace, "server") }
        _ = try await detached { try run("/bin/cp", ["-a", template + "/data", root + "/data"]) }
        let server = PostgresTestServer(port: try freePort(), root: root)
        try await server.startServer(bin: bin)
        return server
    }

    /// Runs `body` with a server of its own, removed afterwards whether `body` succeeds or not.
    package static func withPrivateServer<T: Sendable>(
        _ body: @Sendable (PostgresTestServer) async throws -> T
    ) async throws -> T {
        let server = try await start()
        do {
            let result = try await body(server)
            await server.remove()
            return result
        } catch {
            await server.remove()
            throw error
        }
    }

    private init(port: Int, root: String) {
        self.port = port
        self.root = root
        watchdog = Mutex(nil)
    }

    /// `postgres://postgres@127.0.0.1:PORT/NAME?sslmode=disable`.
    package func url(database: String) -> String {
        "postgres://postgres@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// A new, empty database on this server; returns its URL.
    package func makeDatabase() async throws -> String {
        let number = databaseCount.withLock { count in
            count += 1
            return count
        }
        let name = "fieldgate_test_\(getpid())_\(number)"
        try await psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    /// The database name in a URL that ``makeDatabase()`` returned, for ``psql(_:database:)``.
    package static func databaseName(in url: String) -> String {
        String(url.split(separator: "/").last?.split(separator: "?").first ?? "")
    }

    /// Runs SQL on `database` with psql and returns its unaligned output.
    @discardableResult
    package func psql(_ sql: String, database: String = "postgres") async throws -> String {
        let bin = try Self.binaries.get()
        let port = self.port
        return try await Self.detached {
            try Self.run(
                "\(bin)/psql",
                [
                    "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", database, "-XAtq", "-v",
                    "ON_ERROR_STOP=1", "-c", sql,
                ]
            )
        }
    }

    /// Stops PostgreSQL: `fast` lets sessions end cleanly, `immediate` is a crash (recovery runs at the next start).
    package func stop(immediately: Bool = false) async throws {
        guard
            let watchdog = watchdog.withLock({ state -> Watchdog? in
                defer { state = nil }
                return state
            })
        else {
            return
        }
        try? watchdog.input.write(contentsOf: Array((immediately ? "immediate\n" : "fast\n").utf8))
        try? watchdog.input.close()
        try await Self.detached { watchdog.process.waitUntilExit() }
    }

    /// Starts PostgreSQL again on the same folder and port.
    package func restart() async throws {
        try await startServer(bin: try Self.binaries.get())
    }

    /// Stops the server and deletes its folder.
    package func remove() async {
        try? await stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    private func startServer(bin: String) async throws {
        let data = root + "/data"
        let log = root + "/postgres.log"
        // Tests run in parallel and each store keeps a few connections (its pool's minimum, both committers, the
        // LISTEN connection): at 300, a full run once left a dozen stores without a connection at start.
        var command = [
            "\(bin)/postgres", "-D", data, "-p", "\(port)", "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=", "-c", "max_connections=1000", "-c", "shared_buffers=32MB",
            // The tests care about behaviour, not power loss: fsync off keeps them fast; synchronous_commit stays
            // on (the store sets it per session), so every COMMIT still waits for its WAL write.
            "-c", "fsync=off", "-c", "full_page_writes=off",
        ]
        if getuid() == 0 {
            command = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + command
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.watchdogScript, root] + command
        let input = Pipe()
        // Only the watchdog may hold the read end, and no child at all the write end — not the watchdog, not a
        // `fieldgate serve` a test starts — or the watchdog would never see this process end.
        _ = fcntl(input.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try? input.fileHandleForReading.close()
        watchdog.withLock { $0 = Watchdog(process: process, input: input.fileHandleForWriting) }

        for _ in 0..<600 {
            let ready = try? await Self.detached {
                try Self.run("\(bin)/pg_isready", ["-q", "-h", "127.0.0.1", "-p", "\(self.port)", "-U", "postgres"])
            }
            if ready != nil { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try? await stop()
        throw TestSupportError("PostgreSQL did not start on port \(port): \(output.suffix(2000))")
    }

    /// Runs PostgreSQL until told `fast` or `immediate` on standard input (then keeps the folder), or until
    /// standard input closes because the test process is gone (then also removes the folder). Python rather than
    /// sh: the test process starts children with signals blocked, and a shell's `wait` then never returns; this
    /// watchdog resets the mask and signal dispositions for itself and the server.
    static let watchdogScript = """
        import os, shutil, signal, subprocess, sys
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(number, signal.SIG_DFL)
        root = sys.argv[1]
        with open(os.path.join(root, "postgres.log"), "ab") as log:
            server = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        command = ""
        for line in sys.stdin:
            command = line.strip()
            if command in ("fast", "immediate"):
                break
        server.send_signal(signal.SIGQUIT if command == "immediate" else signal.SIGINT)
        server.wait()
        if command not in ("fast", "immediate"):
            shutil.rmtree(root, ignore_errors=True)
        """

    // MARK: Helpers

    /// Blocking work (a child process to its end) on a thread of its own, never on a cooperative-pool thread: the
    /// pool has one thread per core, and tests waiting for processes would otherwise starve every other task.
    @discardableResult
    static func detached<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Runs a program to its end; throws with its output unless it exits 0.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw TestSupportError("\(executable) \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    /// A new folder in `parent` that the `postgres` user may write when we are root.
    static func makeFolder(in parent: String, _ prefix: String) throws -> String {
        for attempt in 0..<100 {
            let path = "\(parent)/\(prefix)-\(UInt32.random(in: 0...UInt32.max))-\(attempt)"
            if mkdir(path, 0o700) == 0 {
                if getuid() == 0 { try run("/bin/chown", ["postgres:postgres", path]) }
                return path
            }
        }
        throw TestSupportError("cannot create a folder in \(parent)")
    }

    /// A TCP port nothing listens on right now (bound to port 0 and released).
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestSupportError("socket() failed") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        guard bound == 0 else { throw TestSupportError("bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard named == 0 else { throw TestSupportError("getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `initdb` once per test process; servers start from copies of it.
    private enum Template {
        static let instance = OnceTask<String> {
            let bin = try binaries.get()
            let workspace = try await Workspace.instance.get()
            let root = try await detached { try makeFolder(in: workspace, "template") }
            var command = [
                "\(bin)/initdb", "-D", root + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--locale=C.UTF-8", "--no-sync", "--no-instructions",
            ]
            if getuid() == 0 {
                command = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + command
            }
            let initdb = command
            _ = try await detached { try run(initdb[0], Array(initdb.dropFirst())) }
            return root
        }
    }

    /// One folder per test process for the template and every server, and a janitor that removes it once the test
    /// process is gone — however it ended — after the servers' own watchdogs have stopped them.
    private enum Workspace {
        static let instance = OnceTask<String> {
            let root = try await detached {
                try makeFolder(in: ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp", "fieldgate-pg-\(getpid())")
            }
            let janitor = Process()
            janitor.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            janitor.arguments = ["python3", "-c", janitorScript, root]
            let input = Pipe()
            _ = fcntl(input.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
            janitor.standardInput = input
            janitor.standardOutput = FileHandle.nullDevice
            janitor.standardError = FileHandle.nullDevice
            try janitor.run()
            try? input.fileHandleForReading.close()
            // Kept open, never written: it closes when this process ends.
            Janitor.input.withLock { $0 = input.fileHandleForWriting }
            return root
        }

        static let janitorScript = """
            import shutil, sys, time
            sys.stdin.read()
            for attempt in range(100):
                shutil.rmtree(sys.argv[1], ignore_errors=True)
                try:
                    open(sys.argv[1])
                except FileNotFoundError:
                    break
                except IsADirectoryError:
                    pass
                time.sleep(0.1)
            """
    }

    private enum Janitor {
        static let input = Mutex<FileHandle?>(nil)
    }

    private enum SharedServer {
        static let instance = OnceTask<PostgresTestServer> { try await PostgresTestServer.start() }
    }
}

/// The result of an async computation run once, shared by every caller (the first caller runs it).
package final class OnceTask<Value: Sendable>: Sendable {
    private let state: Mutex<Task<Value, any Error>?>
    private let work: @Sendable () async throws -> Value

    package init(_ work: @escaping @Sendable () async throws -> Value) {
        self.work = work
        state = Mutex(nil)
    }

    package func get() async throws -> Value {
        let task = state.withLock { state -> Task<Value, any Error> in
            if let task = state { return task }
            let task = Task { try await work() }
            state = task
            return task
        }
        return try await task.value
    }
}
