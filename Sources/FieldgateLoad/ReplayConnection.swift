import NIOCore
import NIOHTTP1
import NIOPosix

/// A corpus request as it goes on the wire: head and body built once, reused on every send.
struct WireRequest {
    var head: HTTPRequestHead
    var body: ByteBuffer?
}

/// What came back for one request: the status and the first bytes of the body (enough to tell accepted from
/// duplicate), or why nothing did.
enum WireAnswer {
    case answered(status: Int, bodyPrefix: [UInt8])
    case failed
}

/// One keep-alive HTTP/1.1 connection of the replay tool, used by one request at a time.
///
/// The replay tool shares the machine with the gateway it measures, so it must cost little per request: a request
/// here is three writes and a callback on the connection's event loop — no task, no thread hop, no URL parsing. The
/// connection is opened on first use and again after the server closes it, a timeout or an error. Everything here
/// runs on `loop` only (checked when a request is sent), which is what makes the unchecked `Sendable` sound.
final class ReplayConnection: @unchecked Sendable {
    let loop: any EventLoop
    private let host: String
    private let port: Int
    private let timeout: TimeAmount
    private var channel: (any Channel)?
    private var inFlight: InFlight?

    private struct InFlight {
        var completion: (WireAnswer) -> Void
        var status: Int?
        var bodyPrefix: [UInt8] = []
        var closeAfter = false
        var timer: Scheduled<Void>?
    }

    init(loop: any EventLoop, host: String, port: Int, timeout: TimeAmount) {
        self.loop = loop
        self.host = host
        self.port = port
        self.timeout = timeout
    }

    var isIdle: Bool { inFlight == nil }

    /// Sends `request`; `completion` runs on `loop` exactly once.
    func send(_ request: WireRequest, completion: @escaping (WireAnswer) -> Void) {
        loop.preconditionInEventLoop()
        precondition(inFlight == nil, "one request at a time per connection")
        inFlight = InFlight(completion: completion)
        let timer = loop.scheduleTask(in: timeout) { [self] in
            finish(.failed)
            channel?.close(promise: nil)
            channel = nil
        }
        inFlight?.timer = timer
        if let channel {
            write(request, to: channel)
            return
        }
        ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseHandler(connection: self))
                }
            }
            .connect(host: host, port: port)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    guard inFlight != nil else {
                        // Timed out while connecting.
                        channel.close(promise: nil)
                        return
                    }
                    self.channel = channel
                    write(request, to: channel)
                case .failure:
                    finish(.failed)
                }
            }
    }

    func close() {
        channel?.close(promise: nil)
        channel = nil
    }

    private func write(_ request: WireRequest, to channel: any Channel) {
        channel.write(HTTPClientRequestPart.head(request.head), promise: nil)
        if let body = request.body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    private func finish(_ answer: WireAnswer) {
        guard let inFlight else { return }
        self.inFlight = nil
        inFlight.timer?.cancel()
        if inFlight.closeAfter, case .answered = answer { close() }
        inFlight.completion(answer)
    }

    fileprivate func received(_ part: HTTPClientResponsePart) {
        switch part {
        case .head(let head):
            inFlight?.status = Int(head.status.code)
            inFlight?.closeAfter = !head.isKeepAlive
        case .body(let buffer):
            let wanted = 32 - (inFlight?.bodyPrefix.count ?? 32)
            if wanted > 0,
                let bytes = buffer.getBytes(at: buffer.readerIndex, length: min(wanted, buffer.readableBytes))
            {
                inFlight?.bodyPrefix.append(contentsOf: bytes)
            }
        case .end:
            guard let status = inFlight?.status else { return finish(.failed) }
            finish(.answered(status: status, bodyPrefix: inFlight?.bodyPrefix ?? []))
        }
    }

    fileprivate func closed(_ channel: any Channel) {
        guard self.channel === channel else { return }
        self.channel = nil
        finish(.failed)
    }

    /// Hands the response parts to the connection; holds it strongly only while the channel lives.
    private final class ResponseHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        private let connection: ReplayConnection

        init(connection: ReplayConnection) {
            self.connection = connection
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            connection.received(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            connection.closed(context.channel)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
