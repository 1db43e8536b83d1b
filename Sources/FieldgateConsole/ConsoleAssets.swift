import Hummingbird

import struct NIOCore.ByteBuffer

/// The console's stylesheet, script and icon, compiled into the binary (SwiftPM `embedInCode`): the console works
/// offline, from any working directory, with no Node toolchain and nothing fetched from elsewhere.
enum ConsoleAssets {
    static func response(_ name: String) throws -> Response {
        let asset: (bytes: [UInt8], type: String)
        switch name {
        case "console.css": asset = (PackageResources.console_css, "text/css; charset=utf-8")
        case "console.js": asset = (PackageResources.console_js, "text/javascript; charset=utf-8")
        case "icon.svg": asset = (PackageResources.icon_svg, "image/svg+xml")
        default: throw ConsoleFailure(status: .notFound, "There is no such file.")
        }
        return Response(
            status: .ok,
            headers: [.contentType: asset.type],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes))
        )
    }
}
