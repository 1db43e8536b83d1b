import FieldgateModel
import HellotracksAdapter
import TechLinkAdapter
import TrackTikAdapter

enum CorpusAdapters {
    static let all: [any VendorAdapter] = [TrackTikAdapter(), HellotracksAdapter(), TechLinkAdapter()]
}
