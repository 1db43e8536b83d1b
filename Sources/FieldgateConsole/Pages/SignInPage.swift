import FieldgateCore
import FieldgateModel
import HTTPTypes
import Hummingbird
import Logging

extension Console {
    /// The sign-in form: the admin token, exchanged for a session cookie.
    func signInPage(_ request: Request, failed: Bool = false, next: String? = nil) async throws -> Response {
        let next = Self.safeNext(next ?? FormFields(urlEncoded: request.uri.query ?? "").value("next"))
        if !failed, authenticatedSession(request) != nil {
            return .redirect(to: next, type: .found)
        }
        return ConsolePage.bare("Sign in", status: failed ? .unauthorized : .ok) { html in
            if sessions == nil {
                html.element(
                    "p",
                    [.class("notice error")],
                    text: "The console is closed: this gateway has no admin.token in its configuration."
                )
                return
            }
            if failed {
                html.element(
                    "p",
                    [.class("notice error"), Attribute("role", "alert")],
                    text: "That is not the admin token."
                )
            }
            html.element(
                "p",
                [.class("muted")],
                text: "Sign in with the gateway's admin token (admin.token in fieldgate.yaml)."
            )
            html.open("form", [Attribute("method", "post"), Attribute("action", "/console/sign-in"), .class("stack")])
            html.open("input", [Attribute("type", "hidden"), Attribute("name", "next"), Attribute("value", next)])
            html.open("label", [Attribute("for", "token")])
            html.text("Admin token")
            html.close("label")
            html.open(
                "input",
                [
                    Attribute("type", "password"), Attribute("id", "token"), Attribute("name", "token"),
                    Attribute("autocomplete", "current-password"), .flag("required", true), .flag("autofocus", true),
                ]
            )
            html.element("button", [Attribute("type", "submit")], text: "Sign in")
            html.close("form")
        }
    }

    func signIn(_ request: Request) async throws -> Response {
        try Self.checkSameOrigin(request)
        guard let sessions else { return try await signInPage(request) }
        let form = try await FormFields.read(request)
        guard let token = form.value("token"), sessions.acceptsToken(token) else {
            dependencies.logger.notice("console sign-in refused")
            return try await signInPage(request, failed: true, next: form.value("next"))
        }
        let (_, cookie) = sessions.issue(at: dependencies.clock.now())
        var response = Response.redirect(to: Self.safeNext(form.value("next")), type: .normal)
        response.headers[.setCookie] = Self.cookieHeader(cookie, request: request, maxAge: ConsoleSessions.lifetime)
        dependencies.logger.info("console sign-in")
        return response
    }

    func signOut(_ request: Request) async throws -> Response {
        try Self.checkSameOrigin(request)
        if let sessions, let session = authenticatedSession(request) {
            let form = try await FormFields.read(request)
            guard sessions.acceptsCSRFToken(form.value("csrf"), for: session) else {
                throw ConsoleFailure(status: .forbidden, "The form's CSRF token is not this session's.")
            }
        }
        var response = Response.redirect(to: "/console/sign-in", type: .normal)
        response.headers[.setCookie] = Self.cookieHeader("", request: request, maxAge: .zero)
        return response
    }

    /// `HttpOnly` (no script reads it), `SameSite=Strict` (no other site sends it), `Path=/console`, and `Secure`
    /// when the browser reached the gateway over HTTPS (directly or through a proxy that says so).
    static func cookieHeader(_ value: String, request: Request, maxAge: Duration) -> String {
        var header = "\(ConsoleSessions.cookieName)=\(value); Path=/console; HttpOnly; SameSite=Strict"
        header += "; Max-Age=\(maxAge.components.seconds)"
        if request.uri.scheme == .https || request.headers[.xForwardedProto]?.lowercased() == "https" {
            header += "; Secure"
        }
        return header
    }

    /// Where to go after signing in: a console path, never another site (`//host`, `/\host`, a scheme).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/console/"), !next.hasPrefix("/console/sign-"),
            !next.contains("\\"), !next.contains("//"),
            next.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return "/console/overview" }
        return next
    }
}

extension HTTPField.Name {
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
}
