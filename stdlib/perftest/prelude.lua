-- The Lua half of the perftest API: thin wrappers that give errors the caller's line.
local perftest, native = ...

--- Probes `url` once with a fresh connection and returns the result table (never raises for
--- a failed sample: see r.error). Raises, naming your line, if `url` or `opts` is invalid.
function perftest.probe(url, opts)
  local r, err = native.probe(url, opts)
  if err then error("perftest.probe: " .. err, 2) end
  return r
end

--- Waits for every task in the list; returns their first results in the same order.
function perftest.join_all(tasks)
  local results = {}
  for i, t in ipairs(tasks) do results[i] = t:join() end
  return results
end
