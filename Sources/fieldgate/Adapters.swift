import FieldgateModel
import HellotracksAdapter
import TechLinkAdapter
import TrackTikAdapter

/// Every vendor this build supports. Adding a vendor: a target under `Adapters/` and one line here.
let vendorAdapters: [any VendorAdapter] = [
    TrackTikAdapter(),
    HellotracksAdapter(),
    TechLinkAdapter(),
]
