-- monitor: several targets on a fixed schedule, rolling thresholds, a line on failure. The
-- long-running form: each target probed every -d seconds on a fixed schedule (a slow sample
-- does not push the next one back). A row per sample (the classic TSV, or JSON lines with
-- -j/--jsonl); rolling thresholds over the last --window seconds checked after every sample, a
-- line when a target starts failing them and when it recovers, and when its certificate chain
-- comes within --cert-warn-days of expiring (and when it is renewed); every target's summary when
-- stopped (Ctrl-C, SIGTERM). Publishes with the classic flags and their environment
-- variables: -p/--listen (/metrics, /memstats, /healthz; PERFTEST_LISTEN_PORT), -c
-- (CloudWatch), -W (a webhook; HTTP_JSON_WEBHOOK), -A/-M (SMS; RESPONSE_THRESHOLD).
--
-- perftest run monitor [-d S] [--window S] [-t 'METRIC EXPR']... [--targets FILE] [-j|--jsonl]
--                      [--check EXPR]... [--cert-warn-days N] [-p PORT | --listen ADDR] [-c] [-W URL]
--                      [-A MS [-M S]] [URL...]
--
-- --check adds a condition every sample must meet, a Lua expression with the result's fields in
-- scope, Gatus style: --check 'status == 200' --check 'json().status == "UP"'
-- --check 'cert.days_left > 14' --check 'body:find("ok")'. A sample that fails one is a failed
-- sample, "check failed: EXPR" (in errors thresholds, alerts and the row's error); the summary
-- lists each check with its passes and failures.
--
-- --targets FILE: one URL per line (# comments), or a Lua file returning a table of targets:
--   return {
--     "https://example.com/",
--     { url = "https://api.example.com/health", every = 5, opts = { timeout = 2 },
--       thresholds = { total = {"p(95) < 300"}, errors = {"rate < 0.05"} },
--       checks = { 'json().status == "UP"' } },                 -- besides every --check
--   }
local perftest = require "perftest"
local cli = require "perftest.cli"
local classic = require "perftest.classic"
local publishing = require "perftest.publishing"

local args = cli.parse(perftest.args, publishing.with_options(cli.with_probe_options {
  usage = "perftest run monitor [options] [URL...]",
  about = "Probe targets on a fixed schedule; rolling thresholds; a line when one fails or recovers.",
  options = {
    { "d", "every", "S", "seconds between samples of a target", type = "number", default = 10 },
    { "w", "window", "S", "rolling thresholds look at the last S seconds", type = "number", default = 300 },
    { "t", "threshold", "'METRIC EXPR'", "a rolling threshold for every target (repeatable)", type = "list" },
    { nil, "targets", "FILE", "more targets: URLs one per line, or a Lua file returning a table", type = "string" },
    { "n", "count", "N", "stop after N samples of each target (0: until stopped)", type = "int", default = 0 },
    { "j", "jsonl", nil, "a JSON line per sample instead of the TSV row", type = "flag" },
    { "q", "quiet", nil, "no row per sample: only state changes and summaries", type = "flag" },
    cli.CHECK_OPTION,
    { nil, "cert-warn-days", "N", "a line when a target's certificate chain expires within N days (0: never)", type = "int", default = 14 },
    { nil, "remote-write", "URL", "push the /metrics series to this Prometheus remote-write URL (or PERFTEST_REMOTE_WRITE)", type = "string" },
  },
}))

local common = cli.probe_opts(args)
local default_thresholds = cli.thresholds(args.threshold)

-- Targets: the command line, then --targets.
local targets = {}
local function add(t)
  if type(t) == "string" then t = { url = t } end
  if type(t) ~= "table" or type(t.url) ~= "string" then
    perftest.exit(2, "perftest run monitor: a target is a URL or a table with url = \"...\"")
  end
  local _, err = perftest.parse_url(t.url)
  if err then perftest.exit(2, "perftest run monitor: " .. err) end
  if t.checks ~= nil and type(t.checks) ~= "table" then
    perftest.exit(2, ("perftest run monitor: %s: checks is a list of expressions"):format(t.url))
  end
  targets[#targets + 1] = t
end
for _, u in ipairs(args.positional) do add(u) end
if args.targets then
  if args.targets:match("%.lua$") then
    local chunk, err = loadfile(args.targets)
    if not chunk then perftest.exit(2, "perftest run monitor: " .. err) end
    local ok, list = pcall(chunk)
    if not ok or type(list) ~= "table" then
      perftest.exit(2, ("perftest run monitor: %s must return a table of targets (%s)"):format(args.targets, tostring(list)))
    end
    for _, t in ipairs(list) do add(t) end
  else
    local f, err = io.open(args.targets)
    if not f then perftest.exit(2, "perftest run monitor: --targets " .. err) end
    for line in f:lines() do
      local u = line:match("^%s*([^#%s]%S*)")
      if u then add(u) end
    end
    f:close()
  end
end
if #targets == 0 then perftest.exit(2, "perftest run monitor: no targets: give URLs or --targets FILE (see --help)") end

-- A target's checks: every --check, then its own; compiled before the first sample, so a
-- mistake ends the run at once (exit 2, naming the expression).
local function target_checks(t)
  local list = {}
  for _, e in ipairs(args.check) do list[#list + 1] = e end
  for _, e in ipairs(t.checks or {}) do list[#list + 1] = e end
  return cli.checks(list, "perftest run monitor")
end
for _, t in ipairs(targets) do t.compiled_checks, t.reads_body = target_checks(t) end

-- --remote-write (or PERFTEST_REMOTE_WRITE): what /metrics serves, pushed as the classic line does.
local conf = publishing.from_args(args)
conf.remote_write = args["remote-write"] or false
local out = publishing.start(conf, { name = "perftest run monitor" })

local function now_iso() return os.date("!%Y-%m-%dT%H:%M:%SZ") end

-- The chain's earliest expiry, not the leaf's: an intermediate that lapses first breaks the
-- chain as surely. Says so once when it comes within --cert-warn-days, once when renewed.
local warn_days = args["cert-warn-days"] or args.cert_warn_days
local function watch_cert(t, r, warned)
  if warn_days <= 0 or not r.cert then return warned end
  local c = r.cert
  local soon = c.chain_days_left < warn_days
  if soon and not warned then
    perftest.eprint(perftest.color(("%s CERT EXPIRING %s: the certificate chain expires in %d days (%s, %s)"):format(
      now_iso(), t.url, c.chain_days_left, os.date("!%Y-%m-%d", c.chain_not_after), c.subject), "yellow"))
  elseif not soon and warned then
    perftest.eprint(perftest.color(("%s CERT RENEWED %s: the chain now expires in %d days"):format(
      now_iso(), t.url, c.chain_days_left), "green"))
  end
  return soon
end

local function watch(t, offset)
  local opts = {}
  for k, v in pairs(common) do opts[k] = v end
  if t.reads_body then opts.keep_body = true end
  for k, v in pairs(t.opts or {}) do opts[k] = v end
  local spec = t.thresholds or default_thresholds
  local checks = next(spec) and perftest.thresholds(spec) or nil
  -- The rolling window is kept only when a threshold reads it.
  local stats = perftest.stats { name = t.url, window = checks and args.window or nil }
  local failing, cert_warned = false, false
  if offset > 0 then perftest.sleep(offset) end
  if perftest.stopping() then return stats end
  local tick = perftest.every(t.every or args.every)
  local n = 0
  while true do
    local r = perftest.probe(t.url, opts)
    if r.error_kind == "interrupted" then break end
    n = n + 1
    if t.compiled_checks then stats:check(r, t.compiled_checks) end
    stats:add(r)
    if not args.quiet then
      print(args.jsonl and classic.json_row(n, r) or classic.row(n, r))
    end
    out:add(r, function() return classic.json_row(n, r) end)
    if r.error then perftest.eprint(r.error) end
    cert_warned = watch_cert(t, r, cert_warned)
    if checks then
      local bad = {}
      for _, v in ipairs(checks:check(stats:window())) do
        if not v.pass then
          bad[#bad + 1] = ("%s (%s)"):format(v.label, v.value and ("%.2f"):format(v.value) or "no data")
        end
      end
      if #bad > 0 and not failing then
        failing = true
        perftest.eprint(perftest.color(("%s FAILING %s: %s over the last %gs"):format(
          now_iso(), t.url, table.concat(bad, ", "), args.window), "red"))
      elseif #bad == 0 and failing then
        failing = false
        perftest.eprint(perftest.color(("%s RECOVERED %s"):format(now_iso(), t.url), "green"))
      end
    end
    if args.count > 0 and n >= args.count then break end
    if not tick:next() then break end
  end
  return stats
end

perftest.eprint(("perftest: monitoring %d target%s from %s"):format(#targets, #targets == 1 and "" or "s", perftest.location))
if not args.quiet and not args.jsonl then print(classic.HEADER) end
local started = perftest.clock()
local tasks = {}
for i, t in ipairs(targets) do
  tasks[i] = perftest.spawn(watch, t, (i - 1) / #targets * (t.every or args.every))
end
for i, stats in ipairs(perftest.join_all(tasks)) do
  if args.jsonl then
    -- The stream stays one JSON object a line: the summaries too (docs/schema/summary.json).
    print(classic.stats_json(stats, targets[i].url, { elapsed = perftest.clock() - started }))
  else
    io.write("\n", stats:summary())
  end
end
