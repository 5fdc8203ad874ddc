-- Full logins against walletauth: each login is a GET /auth/nonce and a POST /auth/verify
-- with the next pre-signed body (its nonce was issued by the server beforehand, so
-- every body is valid exactly once). Bodies are split between wrk threads so none is
-- sent twice. wrk runs for its full -d whatever the threads do, so the run needs more
-- bodies than it can use: a thread that runs out stops and reports it (exhausted=1).
--
-- Environment: BODIES = file with one JSON body per line; THREADS = wrk's -t.

-- What a desktop browser sends: its User-Agent is reduced to a browser family for the
-- access log, part of a real sign-in's work.
local user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
  .. " (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
browser = {["User-Agent"] = user_agent}
verify_headers = {["User-Agent"] = user_agent, ["Content-Type"] = "application/json"}

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  local index = 0
  local total_threads = tonumber(os.getenv("THREADS"))
  for line in io.lines(os.getenv("BODIES")) do
    if index % total_threads == id then
      table.insert(bodies, line)
    end
    index = index + 1
  end
  next_body = 1
  send_nonce = true
  ok = 0
  failed = 0
  answered = 0
  exhausted = 0
  nonce_request = wrk.format("GET", "/auth/nonce", browser)
end

function request()
  -- Alternate the two requests of a login; once the bodies run out, only nonces.
  if send_nonce or next_body > #bodies then
    send_nonce = false
    return nonce_request
  end
  send_nonce = true
  local body = bodies[next_body]
  next_body = next_body + 1
  return wrk.format("POST", "/auth/verify", verify_headers, body)
end

function response(status, headers, body)
  if string.find(body, "nonce", 1, true) and status == 200 then
    return
  end
  answered = answered + 1
  if status == 200 then ok = ok + 1 else failed = failed + 1 end
  if answered >= #bodies then
    exhausted = 1
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local logins, failures, exhausted = 0, 0, 0
  for _, thread in ipairs(threads) do
    logins = logins + thread:get("ok")
    failures = failures + thread:get("failed")
    exhausted = exhausted + thread:get("exhausted")
  end
  io.write(string.format(
    "RESULT exhausted=%d logins=%d failed=%d seconds=%.3f p99_ms=%.2f p50_ms=%.2f requests=%d errors=%d\n",
    exhausted, logins, failures, summary.duration / 1e6, latency:percentile(99) / 1000,
    latency:percentile(50) / 1000, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout))
end
