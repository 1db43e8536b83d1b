import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import Logging

import struct NIOCore.ByteBuffer

/// The console's sections, in the order the navigation lists them.
enum ConsoleSection: String, CaseIterable, Sendable {
    case overview, events, jobs, subscribers, quarantine, tenants

    var title: String {
        switch self {
        case .overview: "Overview"
        case .events: "Events"
        case .jobs: "Jobs"
        case .subscribers: "Subscribers"
        case .quarantine: "Quarantine"
        case .tenants: "Tenants"
        }
    }
}

/// The frame of every console page: a title, the navigation, a heading, the content.
enum ConsolePage {
    /// A page for a signed-in operator.
    static func render(
        _ title: String,
        section: ConsoleSection?,
        for request: ConsoleRequest,
        status: HTTPResponse.Status = .ok,
        content: (inout HTML) -> Void
    ) -> Response {
        var html = HTML()
        head(&html, title: title)
        html.open("body")
        html.open("header", [.class("top")])
        html.link(ConsoleLink("overview"), "Fieldgate", [.class("brand")])
        html.open("nav", [Attribute("aria-label", "Console sections")])
        html.open("ul")
        for entry in ConsoleSection.allCases {
            html.element("li") { html in
                html.link(
                    ConsoleLink(entry.rawValue),
                    entry.title,
                    [Attribute("aria-current", entry == section ? "page" : nil)]
                )
            }
        }
        html.close("ul")
        html.close("nav")
        html.open("form", [Attribute("method", "post"), Attribute("action", "/console/sign-out"), .class("sign-out")])
        csrfField(&html, request)
        html.element("button", [Attribute("type", "submit")], text: "Sign out")
        html.close("form")
        html.close("header")
        html.open("main", [.id("main")])
        html.element("h1", text: title)
        content(&html)
        html.close("main")
        footer(&html)
        html.close("body")
        html.raw("</html>\n")
        return response(html, status: status)
    }

    /// A page without the navigation: sign-in and errors.
    static func bare(_ title: String, status: HTTPResponse.Status = .ok, content: (inout HTML) -> Void) -> Response {
        var html = HTML()
        head(&html, title: title)
        html.open("body", [.class("bare")])
        html.open("main", [.id("main")])
        html.element("h1", text: title)
        content(&html)
        html.close("main")
        footer(&html)
        html.close("body")
        html.raw("</html>\n")
        return response(html, status: status)
    }

    static func head(_ html: inout HTML, title: String) {
        html.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        html.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        html.raw("<meta name=\"referrer\" content=\"same-origin\">\n")
        html.element("title", text: "\(title) · Fieldgate console")
        html.raw("\n<link rel=\"stylesheet\" href=\"/console/assets/console.css\">\n")
        html.raw("<link rel=\"icon\" href=\"/console/assets/icon.svg\" type=\"image/svg+xml\">\n")
        html.raw("<script src=\"/console/assets/console.js\" defer></script>\n</head>\n")
    }

    static func footer(_ html: inout HTML) {
        html.raw("<footer><p>Fieldgate operator console · times are UTC</p></footer>\n")
    }

    /// The hidden `csrf` field every form of a session carries.
    static func csrfField(_ html: inout HTML, _ request: ConsoleRequest) {
        html.open("input", [Attribute("type", "hidden"), Attribute("name", "csrf"), Attribute("value", request.csrf)])
    }

    /// A one-button form that posts to `action`.
    static func button(
        _ html: inout HTML,
        _ request: ConsoleRequest,
        action: ConsoleLink,
        label: String,
        style: String? = nil,
        fields: [(String, String)] = []
    ) {
        html.open("form", [Attribute("method", "post"), Attribute("action", action.text), .class("inline")])
        csrfField(&html, request)
        for (name, value) in fields {
            html.open("input", [Attribute("type", "hidden"), Attribute("name", name), Attribute("value", value)])
        }
        html.element("button", [Attribute("type", "submit"), .class(style)], text: label)
        html.close("form")
    }

    static func response(_ html: HTML, status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: html.bytes))
        )
    }
}

/// Security headers on every console response, and HTML pages for what cannot be shown.
struct ConsoleResponseMiddleware<Context: RequestContext>: RouterMiddleware {
    /// No inline script or style, nothing from elsewhere, no framing, and DOM sinks that take strings (innerHTML
    /// and friends) refused outright by Trusted Types: the console's script builds nodes and sets text.
    static var contentSecurityPolicy: String {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
            + "require-trusted-types-for 'script'; trusted-types 'none'"
    }

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let failure as ConsoleFailure {
            response = Self.failurePage(failure)
        } catch let error as any HTTPResponseError {
            response = Self.failurePage(
                ConsoleFailure(status: error.status, error.status == .notFound ? "There is no such page." : "\(error)")
            )
        }
        Self.secure(&response.headers, asset: request.uri.path.hasPrefix("/console/assets/"))
        return response
    }

    static func secure(_ headers: inout HTTPFields, asset: Bool) {
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.xFrameOptions] = "DENY"
        headers[.referrerPolicy] = "same-origin"
        headers[.crossOriginOpenerPolicy] = "same-origin"
        headers[.crossOriginResourcePolicy] = "same-origin"
        headers[.permissionsPolicy] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        // Authenticated pages are never kept by a browser or a proxy; the assets are public but revalidated.
        if headers[.cacheControl] == nil { headers[.cacheControl] = asset ? "no-cache" : "no-store" }
    }

    static func failurePage(_ failure: ConsoleFailure) -> Response {
        ConsolePage.bare(failure.status.reasonPhrase, status: failure.status) { html in
            html.element("p", [.class("notice error")], text: failure.message)
            html.element("p") { html in html.link(ConsoleLink("overview"), "Back to the overview") }
        }
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let crossOriginOpenerPolicy = HTTPField.Name("Cross-Origin-Opener-Policy")!
    static let crossOriginResourcePolicy = HTTPField.Name("Cross-Origin-Resource-Policy")!
    static let permissionsPolicy = HTTPField.Name("Permissions-Policy")!
}
