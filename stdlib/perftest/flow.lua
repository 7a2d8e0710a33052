-- Multi-step flows: statistics per named step and for the whole flow, each with thresholds.
-- A flow's sample is one run of its steps: each phase the sum of the steps' (so Total is still
-- TCP + TLS + First + LastB, every part timed in Rust), failed when a step failed.
--
--   local flow = perftest.flow {
--     name = "login",
--     thresholds = { total = { "p(95) < 800" }, errors = "rate < 0.01" },   -- the whole flow
--     steps = { login = { thresholds = { total = { "p(95) < 300" } } } },   -- one step's
--     step_thresholds = { first = { "p(99) < 500" } },                       -- every other step's
--   }
--   local s = perftest.session { cookies = true }
--   local run = flow:start()
--   local r = run:step("login", s:probe(url, { json = creds, keep_body = true }),
--     { ["status is 200"] = function(r) return r.status == 200 end })
--   if r.ok then run:step("profile", s:probe(profile_url)) end
--   run:finish()
--   io.write(flow:summary())    -- each step's summary, then the flow's
local perftest = require "perftest"

local M = {}

local Flow = {}
Flow.__index = Flow
Flow.__tostring = function(f) return ("flow %q: %d steps, %d runs"):format(f.name, #f.order, f.total:count()) end

local Run = {}
Run.__index = Run

local PHASES = { "dns", "tcp", "tls", "first", "lastb", "total", "size" }
local KNOWN = { name = true, thresholds = true, steps = true, step_thresholds = true, window = true }

--- A new flow; errors name the flow and the bad option.
function M.new(spec)
  spec = spec or {}
  if type(spec) == "string" then spec = { name = spec } end
  if type(spec) ~= "table" then error("perftest.flow: give a name or a table of options", 0) end
  for k in pairs(spec) do
    if not KNOWN[k] then
      error(("perftest.flow: unknown option %q (name, thresholds, steps, step_thresholds, window)"):format(tostring(k)), 0)
    end
  end
  local name = spec.name or "flow"
  local steps = spec.steps or {}
  if type(steps) ~= "table" then error(("flow %q: steps is a table of step = { thresholds = ... }"):format(name), 0) end
  local self = setmetatable({
    name = name, window = spec.window, steps_spec = steps, step_thresholds = spec.step_thresholds,
    by_step = {}, order = {},
  }, Flow)
  self.total = perftest.stats { name = name .. " › whole flow", window = spec.window, thresholds = spec.thresholds }
  -- Steps named in the spec exist from the start, so their thresholds are checked even if a
  -- run never reaches them (no data fails, as any threshold without samples does).
  local named = {}
  for step in pairs(steps) do named[#named + 1] = step end
  table.sort(named)
  for _, step in ipairs(named) do self:stats(step) end
  return self
end

--- The statistics of one step (made on first use), or with no step the whole flow's.
function Flow:stats(step)
  if step == nil then return self.total end
  local s = self.by_step[step]
  if s then return s end
  if type(step) ~= "string" then error(("flow %q: a step is named by a string"):format(self.name), 2) end
  local own = self.steps_spec[step]
  local thresholds = own and own.thresholds or self.step_thresholds
  s = perftest.stats { name = self.name .. " › " .. step, window = self.window, thresholds = thresholds }
  self.by_step[step] = s
  self.order[#self.order + 1] = step
  return s
end

--- One run of the flow's steps.
function Flow:start()
  local run = setmetatable({ flow = self, steps = 0, sample = { ok = true } }, Run)
  for _, p in ipairs(PHASES) do run.sample[p] = 0 end
  return run
end

--- Records `r` as step `step` of this run (after `checks`, if given, as stats:check runs them);
--- returns r and whether the step succeeded (a response arrived and every check passed).
function Run:step(step, r, checks)
  if self.finished then error(("flow %q: step %q after finish()"):format(self.flow.name, tostring(step)), 2) end
  local s = self.flow:stats(step)
  if checks then s:check(r, checks) end
  s:add(r)
  local interrupted = r.error_kind == "interrupted"
  local x = self.sample
  if self.steps == 0 then x.start, x.url, x.location = r.start, r.url, r.location end
  self.steps = self.steps + 1
  for _, p in ipairs(PHASES) do x[p] = x[p] + (r[p] or 0) end
  x.status = r.status
  if (not r.ok or r.error) and x.ok then
    x.ok = false
    x.error = ("step %s: %s"):format(step, r.error or "failed")
    x.error_kind = interrupted and "interrupted" or r.error_kind or "check"
  end
  return r, r.ok and not r.error
end

--- Ends the run: its sample (phases summed over the steps) goes into the flow's statistics.
--- Returns that sample.
function Run:finish()
  if self.finished then return self.sample end
  self.finished = true
  if self.steps > 0 then self.flow.total:add(self.sample) end
  return self.sample
end

--- Each step's summary in the order the steps first ran, then the flow's ("whole flow").
function Flow:summary(opts)
  local parts = {}
  for _, step in ipairs(self.order) do parts[#parts + 1] = self.by_step[step]:summary(opts) end
  parts[#parts + 1] = self.total:summary(opts)
  return table.concat(parts, "\n")
end

--- { name, order, steps = { [step] = stats:table() }, total = stats:table() }, for JSON; each
--- with `thresholds`, its verdicts.
function Flow:table()
  local function with_verdicts(s)
    local t = s:table()
    t.thresholds = s:check()
    return t
  end
  local steps = {}
  for step, s in pairs(self.by_step) do steps[step] = with_verdicts(s) end
  return { name = self.name, order = self.order, steps = steps, total = with_verdicts(self.total) }
end

return M
