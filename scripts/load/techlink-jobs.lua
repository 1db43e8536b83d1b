-- wrk script: new TechLink status changes spread over a fixed number of jobs (work orders), so that each job gets a
-- run of events in acceptance order: what scripts/measure-postgres.sh delivers and checks per job.
-- Usage: FIELDGATE_JOBS=6000 wrk -t1 -c32 -d20s -s scripts/load/techlink-jobs.lua http://127.0.0.1:8080
local tenant = os.getenv("FIELDGATE_TENANT") or "demo-techlink"
local jobs = tonumber(os.getenv("FIELDGATE_JOBS") or "1000")
-- FIELDGATE_PREFIX tells apart two wrk processes loading one database: the same body twice is a duplicate.
local process = os.getenv("FIELDGATE_PREFIX") or ""
local threads = {}
function setup(thread)
    thread:set("prefix", string.format("%s%d", process, #threads))
    table.insert(threads, thread)
end

local counter = 0
function request()
    counter = counter + 1
    local body = string.format(
        '{"event":"work order status change","workorder_id":"F%d","new_status_code":"%s-%d"}',
        counter % jobs, prefix, counter)
    return wrk.format("POST", "/webhooks/techlink/" .. tenant, {["Content-Type"] = "application/json"}, body)
end
