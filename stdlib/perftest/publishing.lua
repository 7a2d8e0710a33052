-- The classic publishing flags for any scenario, with the classic command line's environment
-- variables (a flag wins over its variable): -p/--listen serve /metrics, /memstats and
-- /healthz; -c sends every sample to CloudWatch as the classic tool did; -W POSTs every sample
-- to a webhook; -A/-M send an SMS through Twilio when a sample's Total exceeds MS.
--
--   local publishing = require "perftest.publishing"
--   local args = cli.parse(perftest.args, publishing.with_options { usage = ..., options = {...} })
--   local out = publishing.start(publishing.from_args(args), { name = "perftest run mine" })
--   -- after each sample:
--   out:add(r, function() return classic.json_row(n, r) end)
local perftest = require "perftest"
local classic = require "perftest.classic"

local M = {}

--- The options, in perftest.cli's form; add them with publishing.with_options(spec).
M.OPTIONS = {
  { "p", "port", "PORT", "serve /metrics, /memstats and /healthz on this port (or PERFTEST_LISTEN_PORT)", type = "string" },
  { nil, "listen", "ADDR", "serve them on this address instead, such as 127.0.0.1:9100", type = "string" },
  { "c", "cloudwatch", nil, "every sample to CloudWatch (namespace \"Http Perf Demo\", metric RespTime)", type = "flag" },
  { "W", "webhook", "URL", "POST every sample as JSON to URL (or HTTP_JSON_WEBHOOK)", type = "string" },
  { "A", "alert", "MS", "an SMS (Twilio) when a sample's Total exceeds MS (or RESPONSE_THRESHOLD)", type = "string" },
  { "M", "alert-every", "S", "at most one alert per S seconds", type = "int", default = 300 },
}

--- Adds the publishing options to a spec's options.
function M.with_options(spec)
  for _, o in ipairs(M.OPTIONS) do spec.options[#spec.options + 1] = o end
  return spec
end

--- The settings start() takes, from options parsed with M.OPTIONS.
function M.from_args(args)
  return {
    port = args.port, listen = args.listen, cloudwatch = args.cloudwatch, webhook = args.webhook,
    alert = args.alert, alert_every = args["alert-every"],
    insecure = args.insecure, cacert = args.cacert,
  }
end

-- An error raised by a perftest verb, without the "file.lua:NN: " in front.
local function reason(err) return (tostring(err):gsub("^[^:]*:%d+: ", "")) end

--- Starts what `conf` asks for: { port, listen, remote_write, cloudwatch, webhook, alert,
--- alert_every, insecure, cacert (the webhook's TLS, as the probe's) }
--- (port and alert as typed, strings or numbers). `how.name` prefixes errors (default
--- "perftest"); `how.note(text)` tells what started (default: on stderr), except the alert
--- when `how.alert_note` is false; `how.quiet_alerts` keeps alert lines off stderr. Returns a
--- publisher with :add(r, json) and .address, the address served.
function M.start(conf, how)
  how = how or {}
  local name = how.name or "perftest"
  local note = how.note or function(text) perftest.eprint(name .. ": " .. text) end
  local function usage_error(msg) perftest.exit(2, name .. ": " .. msg) end
  local function warn(msg) perftest.eprint(name .. ": " .. msg) end

  -- A flag wins over its environment variable; the note says so.
  local function flag_or_env(flag, value, var)
    local text = perftest.env(var)
    if text == nil or text == "" then return value, nil end
    if value ~= nil then
      note(("%s %s overrides %s=%s"):format(flag, tostring(value), var, text))
      return value, nil
    end
    return nil, text
  end

  local out = {}

  -- -p / PERFTEST_LISTEN_PORT / --listen.
  local port, port_text = flag_or_env("-p", conf.port, "PERFTEST_LISTEN_PORT")
  if port ~= nil then
    local n = tonumber(port)
    if not n or n ~= math.floor(n) or n < 0 or n > 65535 then
      usage_error(("-p %s: give a port, 1-65535 (0: any free one)"):format(tostring(port)))
    end
    port = math.floor(n)
  elseif port_text then
    port = tonumber(port_text)
    if not port or port ~= math.floor(port) or port < 1 or port > 65535 then
      warn(("PERFTEST_LISTEN_PORT=%s is not a port (1-65535); not serving"):format(port_text))
      port = nil
    end
  end
  if conf.listen or port then
    local ok, addr = pcall(perftest.serve, conf.listen and { listen = conf.listen } or { port = port })
    if not ok then usage_error(reason(addr)) end
    out.address = addr
    note(("serving /memstats, /metrics and /healthz on http://%s"):format(addr))
  end

  -- --remote-write / PERFTEST_REMOTE_WRITE: the /metrics series pushed to a Prometheus every
  -- PERFTEST_RW_INTERVAL seconds (default 15). Only when conf has the key (false: the flag
  -- not given, the variable still read): a scenario with its own wiring leaves it out.
  if conf.remote_write ~= nil then
    local rw_url, rw_env = flag_or_env("--remote-write", conf.remote_write or nil, "PERFTEST_REMOTE_WRITE")
    rw_url = rw_url or rw_env
    -- As -W: an empty --remote-write is none.
    if rw_url and rw_url ~= "" then
      local interval = tonumber(perftest.env("PERFTEST_RW_INTERVAL") or "")
      local ok, rw = pcall(perftest.remote_write, { url = rw_url, interval = interval })
      if not ok then usage_error(reason(rw)) end
      note(("pushing /metrics' series to %s"):format((tostring(rw):gsub("^remote write ", ""))))
    end
  end

  -- -c: the classic tool's namespace "Http Perf Demo", metric RespTime, dimensions TestUrl,
  -- HTTP Resp Code and FromLocation; sent every PERFTEST_CW_INTERVAL seconds (default 10).
  local cloudwatch
  if conf.cloudwatch then
    local interval = tonumber(perftest.env("PERFTEST_CW_INTERVAL") or "")
    local ok, cw = pcall(perftest.cloudwatch, classic.cloudwatch_options(interval))
    if ok then
      cloudwatch = cw
      note(("publishing to CloudWatch namespace %q"):format(classic.CLOUDWATCH_NAMESPACE))
    else
      warn("CloudWatch: " .. reason(cw):gsub("^perftest%.cloudwatch: ", "") .. "; not publishing")
    end
  end

  -- -W / HTTP_JSON_WEBHOOK, with the probe's TLS settings; an empty -W is no webhook.
  local hook_url, hook_env = flag_or_env("-W", conf.webhook, "HTTP_JSON_WEBHOOK")
  hook_url = hook_url or hook_env
  local webhook
  if hook_url and hook_url ~= "" then
    local ok, w = pcall(perftest.webhook, hook_url, { insecure = conf.insecure, cacert = conf.cacert })
    if not ok then usage_error(reason(w)) end
    webhook = w
    note(("posting every sample to webhook %s"):format((tostring(w):gsub("^webhook ", ""))))
  end

  -- -A / RESPONSE_THRESHOLD with -M: at most one SMS per -M seconds across every target.
  local threshold, threshold_text = flag_or_env("-A", conf.alert, "RESPONSE_THRESHOLD")
  if threshold ~= nil then
    local n = tonumber(threshold)
    if not n or n < 0 then usage_error(("-A %s: give milliseconds (0: no alerts)"):format(tostring(threshold))) end
    threshold = n > 0 and n or nil
  elseif threshold_text then
    threshold = tonumber(threshold_text)
    if not threshold or threshold <= 0 then
      warn(("RESPONSE_THRESHOLD=%s is not a number of ms; no alerts"):format(threshold_text))
      threshold = nil
    end
  end
  local alert
  if threshold then
    local every = conf.alert_every or 300
    local channels = {}
    local ok, sms = pcall(perftest.channel, { type = "twilio" })
    if ok then
      channels[1] = sms
    else
      warn("alerts are printed here only: " .. reason(sms))
    end
    alert = perftest.alert {
      name = "response time",
      when = function(r) return r.total > threshold end,
      failure_threshold = 1, success_threshold = 1, send_on_resolved = false,
      remind_every = every, min_interval = every, channels = channels, quiet = how.quiet_alerts,
      message = function(r) return ("RespTime %.3fms on %s exceeds %gms"):format(r.total, r.url, threshold) end,
    }
    if how.alert_note ~= false then
      note(("alerting when Total exceeds %gms, at most once per %gs"):format(threshold, every))
    end
  end

  --- Publishes one sample; `json` is the body a webhook receives (or a function making it,
  --- called only when there is a webhook).
  function out:add(r, json)
    if cloudwatch then cloudwatch:add(r) end
    if webhook then webhook:send(type(json) == "function" and json() or json) end
    if alert then alert:observe(r) end
  end

  return out
end

return M
