#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams lines from a file or standard input without reading the whole file, so corpora of any size work.
final class LineReader {
    private let file: UnsafeMutablePointer<FILE>
    private let ownsFile: Bool
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0

    /// Opens `path`, or standard input for `-`.
    init?(path: String) {
        if path == "-" {
            guard let input = fdopen(STDIN_FILENO, "rb") else { return nil }
            file = input
            ownsFile = false
        } else {
            guard let opened = fopen(path, "rb") else { return nil }
            file = opened
            ownsFile = true
        }
    }

    deinit {
        free(buffer)
        if ownsFile { fclose(file) }
    }

    /// The next line without its line ending, or nil at the end. Bytes are kept as they are (no UTF-8 repair).
    func next() -> [UInt8]? {
        let length = getline(&buffer, &capacity, file)
        guard length >= 0, let buffer else { return nil }
        var count = length
        while count > 0, buffer[count - 1] == 0x0A || buffer[count - 1] == 0x0D { count -= 1 }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: count) {
            Array(UnsafeBufferPointer(start: $0, count: count))
        }
    }
}

/// Writes to standard error (diagnostics and progress never mix with the JSON on standard output).
func printError(_ text: String, newline: Bool = true) {
    writeAll(STDERR_FILENO, Array((newline ? text + "\n" : text).utf8))
}

/// Buffered standard output: one `write` per 64 KiB rather than per result line.
struct StandardOutput {
    private var buffer: [UInt8] = []

    mutating func write(_ bytes: [UInt8]) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 65_536 { flush() }
    }

    mutating func flush() {
        writeAll(STDOUT_FILENO, buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let written = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}

var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }
