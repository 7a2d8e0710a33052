-- The Lua half of the perftest API: wrappers that give errors the caller's line, tasks.
local perftest, native = ...

-- The verbs whose mistakes raise (perftest.probe, stats, load, cloudwatch, r:json() ...):
-- natively each returns true and its values, or false and the message; here each becomes
-- table[name], raising that message at the caller's line (docs/lua-api.md describes them).
-- `passed` is tail-called, so it takes the wrapper's place on the stack: level 2 is the
-- caller's line, and every value the verb returns passes through, no more.
local function passed(ok, ...)
  if not ok then error((...), 2) end
  return ...
end
for _, verb in ipairs(native.raising) do
  local tbl, name, f = verb[1], verb[2], verb[3]
  tbl[name] = function(...) return passed(f(...)) end
end

--- An alert rule (see perftest.alert in docs/lua-api.md); rule:observe(r) after each sample.
function perftest.alert(spec)
  local ok, rule = pcall(require("perftest.alert").rule, spec)
  if not ok then error(rule, 2) end
  return rule
end

--- A multi-step flow: stats per named step and for the whole flow (see perftest.flow in
--- docs/lua-api.md); flow:start() for each run, run:step(name, r [, checks]), run:finish().
function perftest.flow(spec)
  local ok, flow = pcall(require("perftest.flow").new, spec)
  if not ok then error(flow, 2) end
  return flow
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
