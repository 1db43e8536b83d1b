-- wrk script: every request a new TechLink status change (unique work order IDs), so each one is a durable insert.
-- Usage: wrk -t2 -c64 -d20s --latency -s scripts/load/techlink-unique.lua http://127.0.0.1:8080
-- The tenant is demo-techlink (the demo configuration) unless FIELDGATE_TENANT names another TechLink tenant
-- without tokens (cobalt-pos in the shared corpus configuration).
-- FIELDGATE_PREFIX tells apart two wrk processes started in the same second (their IDs would otherwise be the same).
local tenant = os.getenv("FIELDGATE_TENANT") or "demo-techlink"
local process = os.getenv("FIELDGATE_PREFIX") or ""
local threads = {}
function setup(thread)
    thread:set("prefix", string.format("%s%d-%d", process, os.time(), #threads))
    table.insert(threads, thread)
end

local counter = 0
function request()
    counter = counter + 1
    local body = string.format(
        '{"event":"work order status change","workorder_id":"%s-%d","old_status_code":"20","new_status_code":"22"}',
        prefix, counter)
    return wrk.format("POST", "/webhooks/techlink/" .. tenant, {["Content-Type"] = "application/json"}, body)
end

local statuses = {}
function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end
