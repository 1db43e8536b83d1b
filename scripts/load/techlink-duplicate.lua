-- wrk script: the same TechLink delivery over and over: every request after the first is a duplicate (read path).
-- Usage: wrk -t2 -c64 -d20s --latency -s scripts/load/techlink-duplicate.lua http://127.0.0.1:8080
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"event":"work order status change","workorder_id":"dup-1","old_status_code":"20","new_status_code":"22"}'
wrk.path = "/webhooks/techlink/demo-techlink"
