-- wrk script for the rolling deploy: crud_mix.lua's mix (POST, list, GET by id, PATCH), each
-- POST's title tagged so the database can be asked how many of them it kept, and the 201s
-- (acknowledged creates) counted, all printed as one JSON line when wrk is done.
-- Usage: wrk ... -s rollout_mix.lua http://127.0.0.1:PORT -- ID,ID,... TAG

local threads = {}
local ids = {}
local n = 0
local tag = ""
created = 0 -- per thread; read from each thread in done()

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  for id in string.gmatch(args[1] or "", "%d+") do
    ids[#ids + 1] = id
  end
  tag = args[2] or ""
  assert(#ids > 0 and tag ~= "", "rollout_mix.lua needs task ids and a tag after --")
end

function request()
  n = n + 1
  local k = n % 4
  local id = ids[((n * 7919) % #ids) + 1]
  local json = {["Content-Type"] = "application/json"}
  if k == 0 then
    return wrk.format("POST", "/tasks", json, '{"title": "rollout ' .. tag .. ' ' .. n .. '"}')
  elseif k == 1 then
    return wrk.format("GET", "/tasks?limit=20")
  elseif k == 2 then
    return wrk.format("GET", "/tasks/" .. id)
  end
  return wrk.format("PATCH", "/tasks/" .. id, json, '{"status": "in_progress"}')
end

-- only POST /tasks answers 201
function response(status, headers, body)
  if status == 201 then
    created = created + 1
  end
end

function done(summary, latency, requests)
  local acked = 0
  for _, thread in ipairs(threads) do
    acked = acked + thread:get("created")
  end
  local e = summary.errors
  local answered = summary.requests > 0
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "max_ms": %s, "p99_ms": %s, "error_answers": %d, '
      .. '"socket_errors": %d, "created": %d}\n',
    summary.requests, summary.duration / 1e6,
    answered and string.format("%.1f", latency.max / 1000) or "null",
    answered and string.format("%.1f", latency:percentile(99) / 1000) or "null",
    e.status, e.connect + e.read + e.write + e.timeout, acked))
end
