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
local publishing = require "perftest.publishing"

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

-- -p/--listen, --remote-write, -c, -W and -A/-M, each with its environment variable (a flag
-- wins): perftest.publishing's wiring, which the scenarios share. An empty -W is no webhook,
-- as in Go.
local out = publishing.start({
  port = args.port, listen = args.listen, remote_write = args.remote_write or false,
  cloudwatch = args.cloudwatch, webhook = args.webhook ~= "" and args.webhook or nil,
  alert = args.alert_ms, alert_every = args.alert_every,
  insecure = args.insecure, cacert = args.cacert,
}, {
  note = function(text) note("%s", text) end, quiet_alerts = verbose == 0,
  -- The Go tool says nothing when -A is given; neither does its command line here.
  alert_note = false,
})

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
    out:add(r, function() return classic.go_json(r, false) end)
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
