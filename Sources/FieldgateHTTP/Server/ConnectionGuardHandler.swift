import FieldgateCore
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// The first handler of every connection, beneath the HTTP parser: the request deadline, the connection cap,
/// and the answers that must be written without the HTTP encoder (before a request was parsed, or instead of
/// one).
///
/// **Deadline.** The first byte of a request arms `requestTimeout`; the request's end (reported by
/// ``RequestProgressHandler``, which sees parsed parts) disarms it. When it fires, a request that has not been
/// answered gets 408 as a problem document; then the connection closes either way. A stalled head, a stalled
/// body and a slow drip of either all end here. An idle keep-alive connection (no request begun) is Hummingbird's
/// idle timeout's to close.
///
/// **Closing after an answer.** The output is closed after the answer is flushed and input is read and dropped
/// for a moment (``lingerTime``) before the connection closes, so a client still sending its body reads the
/// answer instead of a reset.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long input is still read (and dropped) after an answer that closes the connection.
    static let lingerTime: TimeAmount = .seconds(1)

    let limits: ConnectionLimits
    /// Over the connection limit: answered 503 at once, never read.
    let refuse: Bool

    private var context: ChannelHandlerContext?
    /// A request is arriving: its first byte was read, its end not yet.
    private var receiving = false
    /// The arriving request has been answered already (a refusal before its body), so a timeout only closes.
    private var answeredWhileReceiving = false
    /// A response is being written: its head went out, its end not yet.
    private var responding = false
    /// After an answer that closes the connection: input is dropped.
    private var discarding = false
    private var deadline: Scheduled<Void>?

    init(limits: ConnectionLimits, refuse: Bool) {
        self.limits = limits
        self.refuse = refuse
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if refuse && context.channel.isActive { refuseConnection() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if refuse { refuseConnection() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refuse || discarding { return }
        if !receiving { requestBegan() }
        context.fireChannelRead(data)
    }

    // MARK: What the parsed side reports

    /// A request's head was parsed (a pipelined request may begin without a read of its own).
    func requestHeadArrived() {
        if !receiving { requestBegan() }
    }

    /// The request's last byte was parsed: the deadline is met.
    func requestEnded() {
        receiving = false
        deadline?.cancel()
        deadline = nil
    }

    func responseStarted() {
        responding = true
        if receiving { answeredWhileReceiving = true }
    }

    func responseEnded() {
        responding = false
    }

    /// The parser refused the bytes between requests: answer with the problem and close.
    func parserRefused(_ problem: Problem) {
        if responding || answeredWhileReceiving {
            closeNow()
        } else {
            answerAndClose(problem)
        }
    }

    /// After an answer the connection cannot continue from (an undrainable body, `Connection: close`).
    func closeAfterAnswer() {
        guard let context, !discarding else { return }
        discarding = true
        context.flush()
        context.close(mode: .output, promise: nil)
        let loop = context.eventLoop.assumeIsolated()
        loop.scheduleTask(in: Self.lingerTime) { [weak self] in self?.closeNow() }
    }

    func closeNow() {
        guard let context else { return }
        deadline?.cancel()
        deadline = nil
        context.close(promise: nil)
    }

    // MARK: Internals

    private func requestBegan() {
        receiving = true
        answeredWhileReceiving = false
        guard let context else { return }
        deadline?.cancel()
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(limits.requestTimeout)) {
            [weak self] in self?.timedOut()
        }
    }

    private func timedOut() {
        deadline = nil
        guard receiving, !answeredWhileReceiving, !responding else { return closeNow() }
        let seconds = Problem.wholeSeconds(limits.requestTimeout)
        answerAndClose(
            Problem(
                .requestTimeout,
                "the request's head and body did not arrive within \(seconds) s (server.requestTimeout)"
            )
        )
    }

    private func refuseConnection() {
        answerAndClose(
            Problem(
                .tooManyConnections,
                "the gateway has \(limits.maxConnections) connections open (server.maxConnections); retry later",
                retryAfter: .seconds(1)
            )
        )
    }

    /// Writes `problem` as a whole response beneath the encoder and closes. Only when no response is being
    /// written: the bytes would otherwise land inside another response.
    private func answerAndClose(_ problem: Problem) {
        guard let context, !discarding else { return }
        responding = true
        context.write(wrapOutboundOut(problem.closingResponseBytes()), promise: nil)
        closeAfterAnswer()
    }
}

/// Sits after Hummingbird's HTTP codec, where requests are parsed parts: tells ``ConnectionGuardHandler`` where
/// each request and response begins and ends, turns what the parser refuses into problem documents, and bounds
/// the drain of a body that was answered before it was read.
///
/// A refused request (404, 405, 413, 401) is answered from its head; Hummingbird then reads the rest of its body
/// and drops it, which keeps the connection for the next request. That drain is bounded: past `drainBytes`, or
/// when the declared length says it would go past them, or for a chunked body, the connection is closed after
/// the answer instead.
final class RequestProgressHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let drainBytes: Int
    /// Set when the connection is set up (the two handlers of one channel, on its event loop).
    var connection: ConnectionGuardHandler?

    /// Between a request's head and its end.
    private var requestInFlight = false
    /// The body bytes of the request in flight, and what its head declared.
    private var bodyBytes = 0
    private var declaredLength: Int?
    private var chunked = false
    /// A response went out before the request's end: the rest of its body is being drained.
    private var draining = false
    /// The response being written asked for the connection to close.
    private var closeAfterResponse = false
    /// An error has gone up the pipeline for the request in flight.
    private var failedRequest = false

    init(drainBytes: Int) {
        self.drainBytes = drainBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            requestInFlight = true
            failedRequest = false
            bodyBytes = 0
            declaredLength = head.headerFields[.contentLength].flatMap { Int($0) }
            chunked = head.headerFields[.transferEncoding] != nil
            connection?.requestHeadArrived()
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            if draining && bodyBytes > drainBytes {
                connection?.closeNow()
                return
            }
        case .end:
            requestInFlight = false
            draining = false
            connection?.requestEnded()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            closeAfterResponse = response.headerFields[.connection]?.lowercased() == "close"
            connection?.responseStarted()
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            context.write(data, promise: promise)
            connection?.responseEnded()
            if requestInFlight && !closeAfterResponse {
                // Answered before the body was read: drain what is left if it is small, else close.
                let remaining = declaredLength.map { $0 - bodyBytes } ?? (chunked ? Int.max : 0)
                if remaining > drainBytes - bodyBytes { closeAfterResponse = true } else { draining = true }
            }
            if closeAfterResponse { connection?.closeAfterAnswer() }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        if requestInFlight && !draining {
            // The request's body is being read by a route: let the read fail there (it answers 400 and closes).
            failedRequest = true
            return context.fireErrorCaught(error)
        }
        connection?.parserRefused(Problem(parserError))
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A request cut off before its end must not look complete to whoever reads its body.
        if requestInFlight && !failedRequest && !draining {
            failedRequest = true
            context.fireErrorCaught(IncompleteRequest(received: bodyBytes, declared: declaredLength))
        }
        context.fireChannelInactive()
    }
}

/// The connection closed before the request's end arrived.
struct IncompleteRequest: Error, CustomStringConvertible {
    var received: Int
    var declared: Int?

    var description: String {
        "the connection closed after \(received)" + (declared.map { " of \($0)" } ?? "") + " body bytes"
    }
}

extension Problem {
    /// What the HTTP/1 parser refused, as the problem a client can act on: the header block's size is 431,
    /// ambiguous framing (`Content-Length` with `Transfer-Encoding`, two `Content-Length`s, a bad chunk size)
    /// is `bad-framing`, anything else is `bad-request`.
    init(_ error: HTTPParserError) {
        switch error {
        case .headerOverflow:
            self.init(
                .headersTooLarge,
                "the request line and header fields exceed \(IngestPipeline.maximumHeaderBytes) bytes"
            )
        case .unexpectedContentLength, .invalidContentLength:
            self.init(
                .badFraming,
                "the message framing is ambiguous or invalid: Content-Length together with Transfer-Encoding, two "
                    + "Content-Length fields, or one that is not a number (\(error))"
            )
        case .invalidChunkSize:
            self.init(.badFraming, "the chunked body has an invalid chunk size (\(error))")
        case .unknown:
            // NIO reports llhttp's Transfer-Encoding refusals (with Content-Length, or not ending in chunked)
            // this way, and little else a request can cause.
            self.init(
                .badFraming,
                "the message framing is invalid: a Transfer-Encoding together with Content-Length, one that does "
                    + "not end in chunked, or a malformed line ending"
            )
        default:
            self.init(.badRequest, "the request is not valid HTTP/1.1 (\(error))")
        }
    }
}
