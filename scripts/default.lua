-- default: the classic perftest command line, TSV rows and a summary of averages per URL.
-- Probes each URL every -d seconds, -n times (0: until stopped), the URLs in parallel; a TSV
-- row per sample (JSON with -j).
--
-- perftest [-n N] [-d S] [-f N] [-j] [-q|-v|-V] [-k] [-L] [--cacert FILE] [--http2] URL...
-- Environment: PERFTEST_URL, PERFTEST_LIMIT, PERFTEST_DELAY, REP_LOCATION (REP_CITY, REP_COUNTRY).
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

-- PERFTEST_LIMIT and PERFTEST_DELAY win over -n and -d; a bad value is named and ignored.
local function from_env(var, flag, value, integer)
  local text = perftest.env(var)
  if text == nil or text == "" then return value end
  local n = tonumber(text)
  if n == nil or n < 0 or (integer and n ~= math.floor(n)) then
    perftest.eprint(("perftest: %s=%s is not a %s >= 0; using -%s %s instead"):format(
      var, text, integer and "whole number" or "number", flag, show(value)))
    return value
  end
  if args[flag] ~= nil then
    note("%s=%s from the environment overrides -%s %s", var, text, flag, show(args[flag]))
  end
  return integer and math.floor(n) or n
end

local limit = from_env("PERFTEST_LIMIT", "n", args.n or 0, true)
local delay = from_env("PERFTEST_DELAY", "d", args.d or 10, false)
local max_failures = args.f or 10

local function usage_error(msg) perftest.exit(2, "perftest: " .. msg) end

local urls = {}
for _, u in ipairs(args.urls) do urls[#urls + 1] = u end
for u in (perftest.env("PERFTEST_URL") or ""):gmatch("%S+") do urls[#urls + 1] = u end
if #urls == 0 then
  usage_error("no URLs to test: give one or more URLs, or set PERFTEST_URL (see perftest --help)")
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
  headers[name] = value
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
    if args.json then print(classic.json_row(n, r)) else print(classic.row(n, r)) end
    if r.error then
      perftest.eprint(r.error)
      failures = failures + 1
      if failures >= max_failures then
        perftest.eprint(("perftest: fetch failure %d of %d on %s"):format(failures, max_failures, r.url))
        break
      end
    elseif verbose >= 2 then
      perftest.eprint(describe(r))
    end
    if limit > 0 and n >= limit then break end
    if not tick:next() then break end
  end
  if args.json then
    print(classic.summary_json(summary))
  else
    io.write(classic.summary_text(summary))
  end
end

note("testing %s from %s", table.concat(urls, " "), perftest.location)
if not args.json then print(classic.HEADER) end
local tasks = {}
for i, url in ipairs(urls) do tasks[i] = perftest.spawn(test, url) end
perftest.join_all(tasks)
