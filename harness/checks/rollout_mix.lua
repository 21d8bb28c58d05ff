-- wrk script for the rolling deploy: crud_mix.lua's quarters (POST, list, GET by id, PATCH),
-- made countable. Each POST's title carries the rollout's tag; each PATCH writes its own
-- description to a task this thread created, each such task once, so that no later write can
-- hide a lost one. The acknowledged writes (201s, and 200s of those PATCHes) are counted and
-- printed with wrk's figures as one JSON line, for the database to be asked afterwards.
-- Usage: wrk ... -s rollout_mix.lua http://127.0.0.1:PORT -- ID,ID,... TAG

local threads = {}
local ids = {}
local mine = {} -- this thread's acknowledged creates, not patched yet
local n = 0
local tag = ""
created = 0 -- per thread, like patched; read from each thread in done()
patched = 0

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
  elseif k == 3 and #mine > 0 then
    local own = table.remove(mine, 1)
    local body = '{"description": "patched ' .. tag .. ' ' .. own .. '", "status": "in_progress"}'
    return wrk.format("PATCH", "/tasks/" .. own, json, body)
  end
  return wrk.format("GET", "/tasks/" .. id) -- and in place of a PATCH while none is created
end

-- a 201 is a create (its body the task); a PATCH's 200 is the one task object whose
-- description says patched (a list is an array, a GET by id a seeded task)
function response(status, headers, body)
  if status == 201 then
    created = created + 1
    mine[#mine + 1] = string.match(body, '"id":%s*(%d+)')
  elseif status == 200 and body:sub(1, 1) == "{" and body:find('"patched ', 1, true) then
    patched = patched + 1
  end
end

function done(summary, latency, requests)
  local acked, changed = 0, 0
  for _, thread in ipairs(threads) do
    acked = acked + thread:get("created")
    changed = changed + thread:get("patched")
  end
  local e = summary.errors
  local answered = summary.requests > 0
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "max_ms": %s, "p99_ms": %s, "error_answers": %d, '
      .. '"socket_errors": %d, "created": %d, "patched": %d}\n',
    summary.requests, summary.duration / 1e6,
    answered and string.format("%.1f", latency.max / 1000) or "null",
    answered and string.format("%.1f", latency:percentile(99) / 1000) or "null",
    e.status, e.connect + e.read + e.write + e.timeout, acked, changed))
end
