import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import FieldgateVendors
import Testing

/// Every row of the CONTRACT §4 status tables, through the real adapters.
@Suite("Status tables")
struct StatusTableTests {
    static let config = """
        tenants:
          - {vendor: tracktik, tenant: tt, secretHeader: {name: X-S, value: s}, statusNames: {"Guard Dispatched": dispatched, "Keyholder Called": on_site, "Done": failed}}
          - {vendor: hellotracks, tenant: ht}
          - {vendor: techlink, tenant: tl}
        """

    func harness() throws -> PipelineHarness {
        try PipelineHarness(
            configurationYAML: Self.config,
            adapters: BuiltInVendors.adapters
        )
    }

    func send(
        _ harness: PipelineHarness,
        vendor: String,
        path: String,
        contentType: String,
        body: String
    ) async throws -> CanonicalEvent {
        let request = InboundRequest(
            method: "POST",
            path: path,
            headers: RequestHeaders([("Content-Type", contentType), ("X-S", "s")]),
            body: Array(body.utf8)
        )
        let outcome = try await harness.send(request)
        return try #require(outcome.event, "\(vendor): \(outcome)")
    }

    // MARK: TrackTik

    static let trackTikNames: [(String, JobStatus)] = [
        ("New Alarm", .created), ("new", .created), ("New Call", .created), ("Created", .created),
        ("Dispatched", .dispatched), ("Assigned", .assigned), ("Accept Pending", .assigned), ("Accepted", .accepted),
        ("Acknowledged", .accepted), ("En Route", .enRoute), ("On The Way", .enRoute), ("On my way", .enRoute),
        ("Responding", .enRoute), ("On Site", .onSite), ("Onsite", .onSite), ("Arrived", .onSite),
        ("On Scene", .onSite),
        ("Off Site", .offSite), ("Left Site", .offSite), ("Departed", .offSite), ("Completed", .completed),
        ("Complete", .completed), ("Resolved", .completed), ("Closed", .closed), ("Cancelled", .cancelled),
        ("Canceled", .cancelled), ("Failed", .failed), ("In Review", .inReview), ("Open", .open), ("Refused", .open),
        ("  EN   ROUTE ", .enRoute), ("Awaiting Keyholder", .unknown),
        // The tenant's own names extend and override the table.
        ("guard dispatched", .dispatched), ("Keyholder Called", .onSite), ("Done", .failed),
    ]

    @Test(arguments: trackTikNames)
    func trackTikStatusNames(name: String, status: JobStatus) async throws {
        let body =
            #"{"id":9,"createdOn":"2026-09-14T06:31:07-04:00","workflowInstance":{"dispatchTask":"77","id":5},"status":{"id":3,"name":"\#(name)","tag":"zzz"}}"#
        let event = try await send(
            try harness(),
            vendor: "tracktik",
            path: "/webhooks/tracktik/tt/workflow-instance-logs",
            contentType: "application/json",
            body: body
        )
        #expect(event.job?.status == status)
        #expect(event.job?.vendorStatus == VendorStatus(code: "3", name: name))
        #expect(event.job?.id == "77")
        #expect(event.time.rfc3339() == "2026-09-14T10:31:07Z")
    }

    @Test func trackTikFallsBackToTheTag() async throws {
        let body =
            #"{"id":9,"workflowInstance":{"dispatchTask":77},"status":{"id":49,"name":"Officer On Scene Now","tag":"On Site"}}"#
        let event = try await send(
            try harness(),
            vendor: "tracktik",
            path: "/webhooks/tracktik/tt/workflow-instance-logs/updated",
            contentType: "application/json",
            body: body
        )
        #expect(event.job?.status == .onSite)
        #expect(event.job?.vendorStatus?.name == "Officer On Scene Now")
        #expect(event.job?.id == "77")
    }

    @Test func trackTikBareIDsSayWhichStatusButNotWhatItMeans() async throws {
        let body = #"{"id":9,"workflowInstance":604,"status":46,"user":3310}"#
        let event = try await send(
            try harness(),
            vendor: "tracktik",
            path: "/webhooks/tracktik/tt/workflow-instance-logs/created",
            contentType: "application/json",
            body: body
        )
        #expect(event.job?.status == .unknown)
        #expect(event.job?.vendorStatus == VendorStatus(code: "46", name: nil))
        #expect(event.job?.id == nil)
        #expect(event.subject == nil)
        #expect(event.detail["workflowInstance"] == .object(["id": "604"]))
    }

    @Test(arguments: [("OPEN", JobStatus.open), ("CLOSED", .closed), ("closed", .closed), ("ON_HOLD", .unknown)])
    func trackTikDispatchStatus(vendorStatus: String, status: JobStatus) async throws {
        let body =
            #"{"meta":{"request":"x"},"data":{"id":653,"status":"\#(vendorStatus)","startDateTime":"2026-09-14T06:30:55+00:00"}}"#
        let event = try await send(
            try harness(),
            vendor: "tracktik",
            path: "/webhooks/tracktik/tt/dispatch-tasks/updated",
            contentType: "application/json",
            body: body
        )
        #expect(event.type == .jobUpdated)
        #expect(event.job?.id == "653")
        #expect(event.job?.status == status)
        #expect(event.job?.vendorStatus?.name == vendorStatus)
    }

    // MARK: TechLink

    static let techLinkCodes: [(String, JobStatus)] = [
        ("10", .created), ("20", .open), ("22", .dispatched), ("26", .dispatched), ("28", .dispatched), ("30", .open),
        ("40", .assigned), ("50", .accepted), ("55", .open), ("60", .scheduled), ("70", .onSite), ("72", .offSite),
        ("75", .incomplete), ("76", .completed), ("77", .offSite), ("78", .offSite), ("80", .inReview),
        ("90", .approved), ("92", .completed), ("95", .completed), ("100", .closed), ("105", .cancelled),
        ("85", .unknown), ("0", .unknown),
    ]

    @Test(arguments: techLinkCodes)
    func techLinkStatusCodes(code: String, status: JobStatus) async throws {
        let harness = try harness()
        for literal in [#""\#(code)""#, code] {
            let body =
                #"{"event":"work order status change","workorder_id":5,"old_status_code":"20","new_status_code":\#(literal),"new_status":"Closed"}"#
            let event = try await send(
                harness,
                vendor: "techlink",
                path: "/webhooks/techlink/tl",
                contentType: "application/json",
                body: body
            )
            #expect(event.job?.status == status, "code \(literal)")
            #expect(event.job?.vendorStatus == VendorStatus(code: code, name: "Closed"))
            #expect(event.job?.previousStatus == .open)
            #expect(event.job?.id == "5")
        }
    }

    @Test(arguments: [
        ("In-Review", JobStatus.inReview), ("tech on site", .onSite), ("Off Site / Parts Needed", .offSite),
        ("Ready to Assign", .dispatched), ("Quote Sent", .completed), ("Scheduled", .scheduled), ("Mystery", .unknown),
    ])
    func techLinkStatusNamesWhenTheCodeIsEmpty(name: String, status: JobStatus) async throws {
        let body =
            #"{"event":"work order status change","workorder_id":"5","new_status_code":"","new_status":"\#(name)"}"#
        let event = try await send(
            try harness(),
            vendor: "techlink",
            path: "/webhooks/techlink/tl",
            contentType: "application/json",
            body: body
        )
        #expect(event.job?.status == status)
        #expect(event.job?.vendorStatus == VendorStatus(code: nil, name: name))
    }

    @Test(arguments: [
        ("complete", JobStatus.completed), ("Completed", .completed), ("return", .offSite), ("", .offSite),
    ])
    func techLinkOffSiteDisposition(disposition: String, status: JobStatus) async throws {
        let body =
            #"{"event":"work order tech off-site","workorder_id":"5","disposition":"\#(disposition)","time":"2026-09-18 11:02:31 PDT"}"#
        let event = try await send(
            try harness(),
            vendor: "techlink",
            path: "/webhooks/techlink/tl",
            contentType: "application/json",
            body: body
        )
        #expect(event.type == .jobCheckedOut)
        #expect(event.job?.status == status)
        #expect(event.job?.vendorStatus?.name == (disposition.isEmpty ? nil : disposition))
        #expect(event.time.rfc3339() == "2026-09-18T18:02:31Z")
        #expect(event.detail["localTime"] == "2026-09-18 11:02:31 PDT")
    }

    // MARK: Hellotracks

    static let hellotracksJobs: [(String, JobStatus)] = [
        (#"{"tsDoneFailed":5,"tsDoneSuccess":6,"tsCheckOut":7}"#, .failed),
        (#"{"tsDoneSuccess":6,"tsCheckOut":7,"tsCheckIn":8}"#, .completed),
        (#"{"tsCheckOut":7,"tsCheckIn":8}"#, .offSite),
        (#"{"tsCheckIn":8,"tsAccepted":9}"#, .onSite),
        (#"{"tsAccepted":9,"tsRejected":3,"tsAssigned":2}"#, .accepted),
        (#"{"tsAccepted":3,"tsRejected":9,"tsAssigned":2}"#, .open),
        (#"{"tsAccepted":3,"tsRejected":4,"tsAssigned":9,"worker":"w"}"#, .assigned),
        (#"{"tsAccepted":9,"tsRejected":9,"tsAssigned":9}"#, .accepted),
        (#"{"tsRejected":9,"tsAssigned":9}"#, .open),
        (#"{"worker":"luis","tsAssigned":0}"#, .assigned),
        (#"{"worker":"","tsAssigned":0}"#, .created),
        (#"{}"#, .created),
    ]

    @Test(arguments: hellotracksJobs)
    func hellotracksStatusDerivation(job: String, status: JobStatus) async throws {
        let data = job.utf8.map { byte -> String in
            let character = Character(Unicode.Scalar(byte))
            return character.isLetter || character.isNumber
                ? String(character) : "%" + String(byte, radix: 16, uppercase: true)
        }.joined()
        let body = "id=j1&action=jobupdated&data=%5B\(data)%5D"
        let event = try await send(
            try harness(),
            vendor: "hellotracks",
            path: "/webhooks/hellotracks/ht",
            contentType: "application/x-www-form-urlencoded",
            body: body
        )
        #expect(event.job?.status == status)
        #expect(event.job?.vendorStatus == nil)
        #expect(event.job?.id == "j1")
    }

    @Test(arguments: [
        ("jobcreated", EventType.jobCreated), ("jobupdated", .jobUpdated), ("jobcompleted", .jobCompleted),
        ("jobarchived", .jobArchived), ("jobdeleted", .jobDeleted), ("jobcheckin", .jobCheckedIn),
        ("jobcheckout", .jobCheckedOut),
    ])
    func hellotracksJobActions(action: String, type: EventType) async throws {
        let body = "reason=x&action=\(action)&id=j2&data=%5B%7B%22worker%22%3A%22a%22%7D%5D"
        let event = try await send(
            try harness(),
            vendor: "hellotracks",
            path: "/webhooks/hellotracks/ht",
            contentType: "application/x-www-form-urlencoded",
            body: body
        )
        #expect(event.type == type)
        #expect(event.vendorEvent == action)
    }
}
