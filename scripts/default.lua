-- default: the classic perftest command line, TSV rows and a summary of averages per URL.
-- Probes each URL every -d seconds, -n times (0: until stopped), the URLs in parallel; a TSV
-- row per sample (the Go tool's JSON with -j, JSON lines with --jsonl).
--
-- perftest [-n N] [-d S] [-f N] [-j|--jsonl] [-q|-v|-V] [-k] [-L] [--cacert FILE] [--http2]
--          [-c] [-W URL] [-A MS] [-M S] [-p PORT | --listen ADDR] [--remote-write URL] URL...
-- Environment: PERFTEST_URL, PERFTEST_LIMIT, PERFTEST_DELAY, REP_LOCATION (REP_CITY, REP_COUNTRY),
-- HTTP_JSON_WEBHOOK, RESPONSE_THRESHOLD, PERFTEST_LISTEN_PORT, PERFTEST_REMOTE_WRITE, AWS_*, TWILIO_*.
-- Run as `perftest run default ARGS...` it parses the same flags from its arguments.
local perftest = require "perftest"
local classic = require "perftest.classic"

local args = perftest.args
if args.urls == nil then args = perftest.parse_classic(args) end
local verbose = args.verbose

local function note(fmt, ...)
  if verbose > 0 then perftest.eprint("perftest: " .. fmt:format(...)) end
end

-- 2.0 reads as 2, as the user typed it.
local function show(v) return tostring(math.tointeger(v) or v) end

-- PERFTEST_LIMIT and PERFTEST_DELAY win over -n and -d. As in the Go tool, a value that is not
-- above 0 is named and the flag's value kept; the delay may be a fraction, as -d may.
-- The warning is Go's, word for word (but for "a number": -d takes fractions).
local function from_env(var, flag, value, integer)
  local text = perftest.env(var)
  if text == nil or text == "" then return value end
  local n = tonumber(text)
  if n == nil or n <= 0 or (integer and n ~= math.floor(n)) then
    perftest.eprint(("perftest: Warning: %s %s is %s -- value must be %s > 0.  Using -%s %s instead"):format(
      var, integer and "from environment" or "environment", text, integer and "int" or "a number",
      flag, show(value)))
    return value
  end
  if not integer and n >= 1e9 then
    perftest.eprint(("perftest: Warning: %s environment is %s -- value must be below 1e9 seconds.  Using -%s %s instead"):format(
      var, text, flag, show(value)))
    return value
  end
  if args[flag] ~= nil then
    note("%s=%s from the environment overrides -%s %s", var, text, flag, show(args[flag]))
  end
  return integer and math.floor(n) or n
end

local limit = from_env("PERFTEST_LIMIT", "n", args.n or 0, true)
local delay = from_env("PERFTEST_DELAY", "d", args.d or 10, false)
-- Failures in a row: a success starts the count again; 0 never stops.
local max_failures = args.f or 10

local function usage_error(msg) perftest.exit(2, "perftest: " .. msg) end

local urls = {}
for _, u in ipairs(args.urls) do urls[#urls + 1] = u end
for u in (perftest.env("PERFTEST_URL") or ""):gmatch("%S+") do urls[#urls + 1] = u end
if #urls == 0 then
  -- Exit status 1, as the Go tool's.
  perftest.exit(1, "perftest: no URLs to test: give one or more URLs, or set PERFTEST_URL (see perftest --help)")
end
for _, u in ipairs(urls) do
  local _, err = perftest.parse_url(u)
  if err then usage_error(err) end
end

if args.cacert then
  local f, err = io.open(args.cacert)
  if not f then usage_error(("--cacert %s: cannot read it (%s)"):format(args.cacert, err:match(": (.*)$") or err)) end
  f:close()
end

-- Options every sample shares.
local headers = {}
for _, h in ipairs(args.headers) do
  local name, value = h:match("^%s*([^:]+):%s*(.-)%s*$")
  if not name then usage_error(("-H '%s': write a header as 'Name: value'"):format(h)) end
  -- A name given twice is sent twice, as curl does.
  if headers[name] == nil then headers[name] = value
  elseif type(headers[name]) == "table" then table.insert(headers[name], value)
  else headers[name] = { headers[name], value } end
end
local function options_for(url)
  local opts = {
    insecure = args.insecure, cacert = args.cacert, http2 = args.http2,
    follow_redirects = args.follow, timeout = args.timeout,
    connect_timeout = args.connect_timeout, ip = args.ip, method = args.method,
    dns_server = args.dns_server, headers = headers,
  }
  local target = perftest.parse_url(url)
  for _, spec in ipairs(args.resolve) do
    local host, port, addr = spec:match("^%[?([^%]]-)%]?:(%d+):(.+)$")
    if not host then usage_error(("--resolve '%s': write it as HOST:PORT:ADDR"):format(spec)) end
    if host == target.host and tonumber(port) == target.port then opts.resolve = addr end
  end
  return opts
end

-- Every URL's options are checked now, before the first row.
for _, u in ipairs(urls) do options_for(u) end

-- An error raised by a perftest verb, without the "default.lua:NN: " in front.
local function reason(err) return (tostring(err):gsub("^[^:]*:%d+: ", "")) end

-- A flag wins over its environment variable; the note says so.
local function flag_or_env(flag, value, var)
  local text = perftest.env(var)
  if text == nil or text == "" then return value, nil end
  if value ~= nil then
    note("-%s %s overrides %s=%s", flag, value, var, text)
    return value, nil
  end
  return nil, text
end

-- -p / PERFTEST_LISTEN_PORT / --listen: /memstats, /metrics and /healthz.
local port, port_text = flag_or_env("p", args.port, "PERFTEST_LISTEN_PORT")
if port_text then
  port = tonumber(port_text)
  if not port or port ~= math.floor(port) or port < 1 or port > 65535 then
    perftest.eprint(("perftest: PERFTEST_LISTEN_PORT=%s is not a port (1-65535); not serving"):format(port_text))
    port = nil
  end
end
if args.listen or port then
  local ok, addr = pcall(perftest.serve, args.listen and { listen = args.listen } or { port = port })
  if not ok then usage_error(reason(addr)) end
  note("serving /memstats, /metrics and /healthz on http://%s", addr)
end

-- --remote-write / PERFTEST_REMOTE_WRITE: the same series pushed to a Prometheus every
-- PERFTEST_RW_INTERVAL seconds (default 15).
local rw_url, rw_env = flag_or_env("-remote-write", args.remote_write, "PERFTEST_REMOTE_WRITE")
rw_url = rw_url or rw_env
if rw_url then
  local ok, rw = pcall(perftest.remote_write, { url = rw_url, interval = tonumber(perftest.env("PERFTEST_RW_INTERVAL") or "") })
  if not ok then usage_error(reason(rw)) end
  note("pushing /metrics' series to %s", tostring(rw):gsub("^remote write ", ""))
end

-- -c: every sample to CloudWatch, as the classic tool published it (namespace "Http Perf Demo",
-- metric RespTime, dimensions TestUrl, HTTP Resp Code, FromLocation).
local cloudwatch
if args.cloudwatch then
  -- Sends every PERFTEST_CW_INTERVAL seconds (default 10); samples wait in a buffer between.
  local interval = tonumber(perftest.env("PERFTEST_CW_INTERVAL") or "")
  local ok, cw = pcall(perftest.cloudwatch, classic.cloudwatch_options(interval))
  if ok then
    cloudwatch = cw
    note("publishing to CloudWatch namespace %q", classic.CLOUDWATCH_NAMESPACE)
  else
    perftest.eprint("perftest: CloudWatch: " .. reason(cw):gsub("^perftest%.cloudwatch: ", "") .. "; not publishing")
  end
end

-- -W / HTTP_JSON_WEBHOOK: every sample POSTed as the Go tool's compact PingTimes JSON, over
-- the probe's TLS settings (--cacert, -k). An empty -W is no webhook, as in Go.
local hook_url, hook_env = flag_or_env("W", args.webhook ~= "" and args.webhook or nil, "HTTP_JSON_WEBHOOK")
hook_url = hook_url or hook_env
local webhook
if hook_url then
  local ok, w = pcall(perftest.webhook, hook_url, { insecure = args.insecure, cacert = args.cacert })
  if not ok then usage_error(reason(w)) end
  webhook = w
  note("posting every sample to webhook %s", tostring(w):gsub("^webhook ", ""))
end

-- -A / RESPONSE_THRESHOLD with -M: an SMS through Twilio when Total exceeds the threshold, at
-- most one per -M seconds across every URL.
local threshold, threshold_text = flag_or_env("A", args.alert_ms, "RESPONSE_THRESHOLD")
if threshold_text then
  threshold = tonumber(threshold_text)
  if not threshold or threshold <= 0 then
    perftest.eprint(("perftest: RESPONSE_THRESHOLD=%s is not a number of ms; no alerts"):format(threshold_text))
    threshold = nil
  end
end
local alert
if threshold and threshold > 0 then
  local every = args.alert_every or 300
  local channels = {}
  local ok, sms = pcall(perftest.channel, { type = "twilio" })
  if ok then
    channels[1] = sms
  else
    perftest.eprint("perftest: alerts are printed here only: " .. reason(sms))
  end
  alert = perftest.alert {
    name = "response time",
    when = function(r) return r.total > threshold end,
    failure_threshold = 1, success_threshold = 1, send_on_resolved = false,
    remind_every = every, min_interval = every, channels = channels, quiet = verbose == 0,
    message = function(r) return ("RespTime %.3fms on %s exceeds %gms"):format(r.total, r.url, threshold) end,
  }
end

local function describe(r)
  local parts = { r.url, (r.version or "") .. " " .. r.status }
  if r.tls_version then parts[#parts + 1] = r.tls_version .. " " .. (r.alpn or "") end
  if r.cert then
    parts[#parts + 1] = ("cert %s, issuer %s, %d days left"):format(r.cert.subject, r.cert.issuer, r.cert.days_left)
  end
  if r.redirects then parts[#parts + 1] = ("%d redirects, final %s"):format(r.redirects, r.final_url) end
  return table.concat(parts, "  ")
end

local function test(url)
  local opts = options_for(url)
  local summary = classic.summary(perftest.parse_url(url).url)
  local failures, n = 0, 0
  local tick = perftest.every(delay)
  while true do
    local r = perftest.probe(url, opts)
    if r.error_kind == "interrupted" then break end
    n = n + 1
    classic.add(summary, r)
    if args.json then
      print(classic.go_json(r, true))
    elseif args.jsonl then
      print(classic.json_row(n, r))
    else
      print(classic.row(n, r))
    end
    if cloudwatch then cloudwatch:add(r) end
    if webhook then webhook:send(classic.go_json(r, false)) end
    if alert then alert:observe(r) end
    if r.error then
      perftest.eprint(r.error)
      failures = failures + 1
      if max_failures > 0 and failures >= max_failures then
        perftest.eprint(("perftest: fetch failure %d of %d in a row on %s"):format(failures, max_failures, r.url))
        break
      end
    else
      failures = 0
      if verbose >= 2 then perftest.eprint(describe(r)) end
    end
    if limit > 0 and n >= limit then break end
    if not tick:next() then break end
  end
  if args.jsonl then
    print(classic.summary_json(summary))
  else
    io.write(classic.summary_text(summary))
  end
end

note("testing %s from %s", table.concat(urls, " "), perftest.location)
if not args.json and not args.jsonl then print(classic.HEADER) end
local tasks = {}
for i, url in ipairs(urls) do tasks[i] = perftest.spawn(test, url) end
perftest.join_all(tasks)
