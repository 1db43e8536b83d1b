package import FieldgateCore
package import HummingbirdCore
package import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The limits CONTRACT §1 puts on every connection ("Limits, timeouts and cost"), from `fieldgate.yaml`'s
/// `server:` section.
package struct ConnectionLimits: Sendable, Equatable {
    /// The head and the whole body of a request must arrive within this, else 408 and the connection closes.
    package var requestTimeout: Duration
    /// A keep-alive connection with no request in progress is closed after this.
    package var idleTimeout: Duration
    /// Connections beyond this are answered 503 at once and closed, not queued.
    package var maxConnections: Int
    /// The request line and header fields together (names and values), else 431.
    package var maxHeaderBytes: Int
    /// How much of a refused request's body is read and dropped, as HTTP/1.1 needs to keep the connection (and
    /// as clients that are still uploading need to read the answer); past it the connection is closed after the
    /// answer. Draining costs bandwidth, never memory: the bytes are dropped as they come, within the request
    /// deadline.
    package var drainBytes: Int

    package init(
        requestTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(60),
        maxConnections: Int = 4096,
        maxHeaderBytes: Int = IngestPipeline.maximumHeaderBytes,
        drainBytes: Int = 16 * 1_048_576
    ) {
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxHeaderBytes = maxHeaderBytes
        self.drainBytes = drainBytes
    }

    package init(_ server: GatewayConfiguration.Server) {
        self.init(
            requestTimeout: server.requestTimeout,
            idleTimeout: server.idleTimeout,
            maxConnections: server.maxConnections,
            drainBytes: 16 * server.maxBodyBytes
        )
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 as Hummingbird serves it, with the gateway's connection limits in front.
    ///
    /// Hummingbird's `HTTP1Channel` brings the parser (configured here for the 64 KiB header block) and the
    /// idle timeout; ``GatewayHTTPChannel`` adds what it lacks: a request deadline (head and body), a connection
    /// cap that refuses rather than queues, problem documents for what the parser refuses, and a bounded drain
    /// of a refused request's body.
    package static func gateway(_ limits: ConnectionLimits, logger: Logger) -> HTTPServerBuilder {
        let connections = ConnectionCount()
        return HTTPServerBuilder { responder in
            GatewayHTTPChannel(
                http1: HTTP1Channel(
                    responder: responder,
                    configuration: HTTP1Channel.Configuration(
                        additionalChannelHandlers: [RequestProgressHandler(drainBytes: limits.drainBytes)],
                        idleTimeout: TimeAmount(limits.idleTimeout),
                        httpDecoderConfiguration: .init(
                            maxHeaderFieldSize: limits.maxHeaderBytes,
                            maxHeaderListSize: limits.maxHeaderBytes,
                            maxHeaderFieldCount: 1000
                        )
                    )
                ),
                limits: limits,
                connections: connections,
                logger: logger
            )
        }
    }
}

/// Hummingbird's HTTP/1 child channel with ``ConnectionGuardHandler`` in front of its parser.
struct GatewayHTTPChannel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let http1: HTTP1Channel
    let limits: ConnectionLimits
    let connections: ConnectionCount
    let logger: Logger

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let open = connections.opened()
        let counter = connections
        channel.closeFuture.whenComplete { _ in counter.closed() }
        let limits = limits
        let refuse = open > limits.maxConnections
        if refuse {
            self.logger.warning(
                "connection refused: at the limit",
                metadata: ["connections.max": "\(limits.maxConnections)"]
            )
        }
        return http1.setup(channel: channel, logger: logger).assumeIsolated().flatMapThrowing { value in
            let progress = try channel.pipeline.syncOperations.handler(type: RequestProgressHandler.self)
            let guardHandler = ConnectionGuardHandler(limits: limits, refuse: refuse)
            progress.connection = guardHandler
            try channel.pipeline.syncOperations.addHandler(guardHandler, position: .first)
            return value
        }.nonisolated()
    }

    func handle(value: Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}

/// Open connections, across event loops.
final class ConnectionCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts a new connection and returns how many are open with it.
    func opened() -> Int { count.add(1, ordering: .relaxed).newValue }

    func closed() { count.subtract(1, ordering: .relaxed) }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension Problem {
    /// The problem as a whole HTTP/1.1 response that closes the connection, for the connection handlers, which
    /// answer beneath the HTTP encoder (before a request was parsed, or instead of one).
    func closingResponseBytes() -> ByteBuffer {
        let body = jsonBytes
        var head = "HTTP/1.1 \(status) \(title)\r\n"
        head += "Content-Type: \(Problem.mediaType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        if let retryAfter { head += "Retry-After: \(Problem.wholeSeconds(retryAfter))\r\n" }
        head += "\r\n"
        var buffer = ByteBuffer(string: head)
        buffer.writeBytes(body)
        return buffer
    }
}
