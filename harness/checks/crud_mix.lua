-- wrk script: a mixed CRUD load, and its figures printed as one JSON line when wrk is done.
-- Usage: wrk ... -s crud_mix.lua http://127.0.0.1:PORT -- ID,ID,...  (existing task ids)

local ids = {}
local n = 0

function init(args)
  for id in string.gmatch(args[1] or "", "%d+") do
    ids[#ids + 1] = id
  end
  assert(#ids > 0, "crud_mix.lua needs existing task ids after --")
end

-- a quarter each of POST, list GET, GET by id and PATCH, spread over many existing
-- tasks (not one hot row) the way independent clients would
function request()
  n = n + 1
  local k = n % 4
  local id = ids[((n * 7919) % #ids) + 1]
  local json = {["Content-Type"] = "application/json"}
  if k == 0 then
    return wrk.format("POST", "/tasks", json, '{"title": "load ' .. n .. '"}')
  elseif k == 1 then
    return wrk.format("GET", "/tasks?limit=20")
  elseif k == 2 then
    return wrk.format("GET", "/tasks/" .. id)
  end
  return wrk.format("PATCH", "/tasks/" .. id, json, '{"status": "in_progress"}')
end

-- wrk keeps latency in microseconds; with no answer at all there is no percentile to report
local function percentile_ms(latency, answered, p)
  if not answered then
    return "null"
  end
  return string.format("%.3f", latency:percentile(p) / 1000)
end

function done(summary, latency, requests)
  local answered = summary.requests > 0
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %s, "p99_ms": %s, "error_answers": %d, '
      .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6,
    percentile_ms(latency, answered, 50), percentile_ms(latency, answered, 99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
