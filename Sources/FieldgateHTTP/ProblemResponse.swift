package import FieldgateCore
import FieldgateModel
package import Hummingbird
import Logging

import struct NIOCore.ByteBuffer
import enum NIOHTTP1.HTTPParserError

extension Problem {
    /// The problem as an `application/problem+json` response; 405 carries `Allow: POST` (ingest routes), a
    /// problem with a retry time carries `Retry-After` in whole seconds.
    package var response: Response {
        var headers: HTTPFields = [.contentType: Problem.mediaType]
        if status == 405 { headers[.allow] = "POST" }
        // A 503 is temporary (the store is unreachable, busy or full): say when to come back.
        if let retryAfter {
            headers[.retryAfter] = String(Self.wholeSeconds(retryAfter))
        } else if status == 503 {
            headers[.retryAfter] = Problem.retryAfterSeconds
        }
        return Response(
            status: HTTPResponse.Status(code: status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBytes))
        )
    }

    /// `Retry-After` on a 503 without a time of its own: long enough for a restarting database or a burst to pass,
    /// short enough that a vendor retrying on its own schedule is not told to wait longer than it would anyway.
    package static let retryAfterSeconds = "2"

    /// The problem document's bytes.
    package var jsonBytes: [UInt8] {
        var bytes: [UInt8] = []
        json.write(into: &bytes)
        return bytes
    }

    /// `Retry-After` takes whole seconds: a fraction rounds up, so a client never comes back early.
    static func wholeSeconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(1, seconds + (attoseconds > 0 ? 1 : 0))
    }
}

/// Turns every error a route throws into a problem document, so no client ever sees an empty or HTML error.
///
/// Store failures become 503 (the vendor retries); anything unexpected becomes 500 and is logged with its cause.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response
        } catch let error as HTTPError {
            switch error.status {
            case .notFound:
                return Problem.notFound(request.uri.path).response
            default:
                // Hummingbird's own errors (a body it could not decode, say) keep their status.
                let code = Problem.Code(
                    "http-\(error.status.code)",
                    status: error.status.code,
                    title: error.status.reasonPhrase
                )
                return Problem(code, error.body ?? error.status.reasonPhrase).response
            }
        } catch let error as HTTPParserError {
            // The body of the request being answered did not parse: the connection cannot go on.
            return Self.closing(Problem(error).response)
        } catch let error as IncompleteRequest {
            return Self.closing(Problem(.badRequest, "\(error)").response)
        } catch let error as StoreOverloaded {
            context.logger.warning("store overloaded", metadata: ["reason": "\(error.reason)"])
            return Problem.overloaded(error).response
        } catch let error as StoreFailure {
            context.logger.error("store failure", metadata: ["error": "\(error.underlying)"])
            return Problem.storeUnavailable("the event store cannot be reached; retry later").response
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(error)"])
            return Problem.internalError.response
        }
    }
}

extension ProblemMiddleware {
    /// The response with `Connection: close`: the connection handler closes it once the answer is out.
    static func closing(_ response: Response) -> Response {
        var response = response
        response.headers[.connection] = "close"
        return response
    }
}

/// An error from the store, kept apart from programming errors so that it answers 503 rather than 500.
struct StoreFailure: Error {
    var underlying: any Error
}

/// Runs a store operation for a route: its errors become ``StoreFailure`` (503); problems and overload (503 with
/// `Retry-After`) pass through.
func storeCall<T>(_ operation: () async throws -> T) async throws -> T {
    do {
        return try await operation()
    } catch let problem as Problem {
        throw problem
    } catch let overload as StoreOverloaded {
        throw overload
    } catch {
        throw StoreFailure(underlying: error)
    }
}

extension Response {
    /// A JSON response from bytes already serialised.
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var bytes: [UInt8] = []
        value.write(into: &bytes)
        return json(bytes, status: status)
    }
}
