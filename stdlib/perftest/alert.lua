-- Alert rules in the spirit of Gatus: a condition checked on every sample, `failure_threshold`
-- failures in a row to trigger, `success_threshold` successes in a row to resolve, a message on
-- resolution if asked, reminders while it lasts, at most one message per `min_interval`; sent
-- through channels made with perftest.channel (Twilio SMS, webhook, Slack, a command).
--
--   local sms = perftest.channel { type = "twilio" }          -- secrets from the environment
--   local rule = perftest.alert {
--     name = "api slow",
--     when = "total > 300 or status >= 500 or error",          -- or function(r) ... end
--     failure_threshold = 3, success_threshold = 2, send_on_resolved = true,
--     remind_every = 3600, channels = { sms },
--   }
--   rule:observe(r)  -- after each sample; returns "TRIGGERED", "REMINDER", "RESOLVED" or nil
local perftest = require "perftest"

local M = {}

local Rule = {}
Rule.__index = Rule
Rule.__tostring = function(r) return ("alert %q (%s)"):format(r.name, r.active and "firing" or "ok") end

local conditions = require "perftest.conditions"

--- A condition from a string: a Lua expression over the result's fields (total, status,
--- error, first..., json()), e.g. "total > 300 or error".
local function compile(name, expr)
  local f, err = conditions.compile(expr)
  if not f then error(("alert %q: condition %q: %s"):format(name, expr, err), 0) end
  return function(r)
    local ok, v = pcall(f, r)
    if not ok then error(("alert %q: condition %q: %s"):format(name, expr, v), 0) end
    return v and v ~= false
  end
end

local KNOWN = {
  name = true, when = true, failure_threshold = true, success_threshold = true,
  send_on_resolved = true, remind_every = true, min_interval = true, channels = true,
  message = true, quiet = true,
}

--- A new rule; errors name the rule and the bad option.
function M.rule(spec)
  if type(spec) ~= "table" then error("perftest.alert: give a table of options", 0) end
  for k in pairs(spec) do
    if not KNOWN[k] then error(("perftest.alert: unknown option %q"):format(tostring(k)), 0) end
  end
  local name = spec.name or "alert"
  local check
  if type(spec.when) == "function" then
    check = spec.when
  elseif type(spec.when) == "string" then
    check = compile(name, spec.when)
  else
    error(("alert %q: give when = \"total > 300\" or a function(r)"):format(name), 0)
  end
  local channels = {}
  for i, ch in ipairs(spec.channels or {}) do
    if type(ch) == "table" and ch.type then ch = perftest.channel(ch) end
    if type(ch) ~= "userdata" then
      error(("alert %q: channels[%d] is not a channel (perftest.channel{...})"):format(name, i), 0)
    end
    channels[i] = ch
  end
  return setmetatable({
    name = name, check = check, channels = channels, message = spec.message,
    failure_threshold = spec.failure_threshold or 3,
    success_threshold = spec.success_threshold or 2,
    send_on_resolved = spec.send_on_resolved ~= false,
    remind_every = spec.remind_every, min_interval = spec.min_interval, quiet = spec.quiet,
    fails = 0, oks = 0, active = false, last_sent = nil,
  }, Rule)
end

local function describe(r)
  if r.error then return r.error end
  return ("status %d, total %.3f ms (dns %.3f, tcp %.3f, tls %.3f, first %.3f, lastb %.3f)"):format(
    r.status, r.total, r.dns, r.tcp, r.tls, r.first, r.lastb)
end

--- Sends `state` about `r` through every channel (unless within min_interval of the last).
function Rule:notify(state, r)
  local now = perftest.clock()
  if self.min_interval and self.last_sent and now - self.last_sent < self.min_interval then return nil end
  self.last_sent = now
  local text = self.message and self.message(r, state)
    or ("[%s] %s: %s %s"):format(state, self.name, r.url, describe(r))
  local fields = {
    rule = self.name, state = state, url = r.url, status = r.status, total = ("%.3f"):format(r.total),
    first = ("%.3f"):format(r.first), error = r.error or "", location = r.location or "",
    time = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(r.start or perftest.now())),
  }
  if not self.quiet then perftest.eprint(("%s ALERT %s"):format(fields.time, text)) end
  for _, ch in ipairs(self.channels) do ch:send(text, fields) end
  return state
end

--- Feeds one sample to the rule; returns the state change it caused, if any.
function Rule:observe(r)
  if r.error_kind == "interrupted" then return nil end
  if self.check(r) then
    self.fails, self.oks = self.fails + 1, 0
    if not self.active then
      if self.fails >= self.failure_threshold then
        self.active = true
        return self:notify("TRIGGERED", r) or "TRIGGERED"
      end
    elseif self.remind_every and self.last_sent and perftest.clock() - self.last_sent >= self.remind_every then
      return self:notify("REMINDER", r)
    end
  else
    self.oks, self.fails = self.oks + 1, 0
    if self.active and self.oks >= self.success_threshold then
      self.active = false
      if self.send_on_resolved then return self:notify("RESOLVED", r) or "RESOLVED" end
      return "RESOLVED"
    end
  end
  return nil
end

--- True while the alert is firing.
function Rule:firing() return self.active end

return M
