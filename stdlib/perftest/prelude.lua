-- The Lua half of the perftest API: thin wrappers that give errors the caller's line.
local perftest, native = ...

--- Probes `url` once with a fresh connection and returns the result table (never raises for
--- a failed sample: see r.error). Raises, naming your line, if `url` or `opts` is invalid.
function perftest.probe(url, opts)
  local r, err = native.probe(url, opts)
  if err then error("perftest.probe: " .. err, 2) end
  return r
end

--- r:json(): the body kept with keep_body, decoded; raises, naming the byte, if it is not JSON.
function native.result_methods.json(r)
  local v, err = native.result_json(r)
  if err then error(err, 2) end
  return v
end

--- Runs named checks on a result, k6-style: true when all pass; a failed one marks r failed.
function perftest.check(r, checks)
  local ok, err = native.check(r, checks)
  if err then error(err, 2) end
  return ok
end

--- Statistics of samples: perftest.stats("name") or perftest.stats{ name =, window =, thresholds = }.
function perftest.stats(opts)
  local s, err = native.stats(opts)
  if err then error(err, 2) end
  return s
end

--- Thresholds in k6's grammar, checked on demand with t:check(stats).
function perftest.thresholds(spec)
  local t, err = native.thresholds(spec)
  if err then error(err, 2) end
  return t
end

--- A bounded load run by the Rust engine; returns its stats and a table of run facts.
function perftest.load(spec)
  local s, info, err = native.load(spec)
  if err then error(err, 2) end
  return s, info
end

--- Publishes samples to CloudWatch (async: loads the AWS configuration and checks credentials).
function perftest.cloudwatch(spec)
  local cw, err = native.cloudwatch(spec)
  if err then error("perftest.cloudwatch: " .. err:gsub("^perftest%.cloudwatch: ", ""), 2) end
  return cw
end

--- POSTs JSON documents to a URL from a bounded queue; opts {cacert, insecure} verify the
--- receiver as a probe with them would.
function perftest.webhook(url, opts)
  local w, err = native.webhook(url, opts)
  if err then error(err, 2) end
  return w
end

--- Where alerts go: {type = "twilio" | "webhook" | "slack" | "command", ...}.
function perftest.channel(spec)
  local c, err = native.channel(spec)
  if err then error(err, 2) end
  return c
end

--- Starts the web server (/memstats, /metrics, /healthz); returns the address it listens on.
function perftest.serve(spec)
  local addr, err = native.serve(spec)
  if err then error(err, 2) end
  return addr
end

--- Pushes the series /metrics serves to a Prometheus remote-write URL every `interval` seconds.
function perftest.remote_write(spec)
  local rw, err = native.remote_write(spec)
  if err then error(err, 2) end
  return rw
end

--- An alert rule (see perftest.alert in docs/lua-api.md); rule:observe(r) after each sample.
function perftest.alert(spec)
  local ok, rule = pcall(require("perftest.alert").rule, spec)
  if not ok then error(rule, 2) end
  return rule
end

local Task = {}
Task.__index = Task
Task.__tostring = function(t) return tostring(t.handle) end

--- Runs fn(...) as a concurrent task; returns a handle with :join() and :done().
function perftest.spawn(fn, ...)
  if type(fn) ~= "function" then error("perftest.spawn: give a function, got " .. type(fn), 2) end
  return setmetatable({ handle = native.spawn(fn, ...) }, Task)
end

--- Waits for the task; returns what its function returned, or raises its error (a string).
function Task:join()
  local r = table.pack(self.handle:join())
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

--- True once the task has ended.
function Task:done() return self.handle:done() end

--- Waits for every task in the list; returns their first results in the same order.
function perftest.join_all(tasks)
  local results = {}
  for i, t in ipairs(tasks) do results[i] = t:join() end
  return results
end
