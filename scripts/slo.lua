-- slo: a CI gate, N probes per URL and exit 99 when a threshold fails. Probes each URL N
-- times (the URLs in parallel), prints a percentile summary per URL and exits 99 if any
-- threshold fails (as k6 does), 0 when all hold.
--
-- perftest run slo [-n N] [-d S] [--p95 MS] [--p99 MS] [--errors RATE] [-t 'METRIC EXPR']...
--                  [--check EXPR]... [--jsonl] [-k] [--cacert FILE] [--http2] [--timeout S] URL...
--
-- --p95 and --p99 bound Total; --errors bounds the failure rate (default 0.01, i.e. under 1%);
-- -t adds any threshold in k6's grammar: -t 'first p(99) < 500' -t 'tls max < 100'.
-- Metrics: dns tcp tls first lastb total size (avg min med max stddev p(N)), errors and ok
-- (rate), samples (count), checks (rate).
-- --check adds a condition every sample must meet, a Lua expression with the result's fields in
-- scope, Gatus style: --check 'status == 200' --check 'json().status == "UP"'
-- --check 'cert.days_left > 14' --check 'body:find("ok")'. A sample that fails one counts as
-- failed (in --errors); the summary lists each check with its passes and failures.
local perftest = require "perftest"
local cli = require "perftest.cli"

local args = cli.parse(perftest.args, cli.with_probe_options {
  usage = "perftest run slo [options] URL...",
  about = "N probes per URL; a summary per URL; exit 99 when a threshold fails.",
  options = {
    { "n", "count", "N", "probes per URL", type = "int", default = 20 },
    { "d", "delay", "S", "seconds between probes to a URL", type = "number", default = 0.2 },
    { nil, "p95", "MS", "Total's p(95) must stay under MS", type = "number" },
    { nil, "p99", "MS", "Total's p(99) must stay under MS", type = "number" },
    { nil, "errors", "RATE", "the failure rate must stay under RATE", type = "number", default = 0.01 },
    { "t", "threshold", "'METRIC EXPR'", "another threshold, e.g. 'first p(99) < 500' (repeatable)", type = "list" },
    cli.CHECK_OPTION,
    { "j", "jsonl", nil, "print each summary as one JSON line", type = "flag" },
  },
  positional = { name = "URL", min = 1 },
})

-- The thresholds, declared before any probe: a typo fails here, not after the run.
local thresholds = { errors = { ("rate < %s"):format(args.errors) } }
if args.p95 then thresholds.total = { ("p(95) < %s"):format(args.p95) } end
if args.p99 then
  thresholds.total = thresholds.total or {}
  table.insert(thresholds.total, ("p(99) < %s"):format(args.p99))
end
cli.thresholds(args.threshold, thresholds)
local ok, err = pcall(perftest.thresholds, thresholds)
if not ok then perftest.exit(2, "perftest run slo: " .. tostring(err):gsub("^.-:%d+: ", "")) end
local opts = cli.probe_opts(args)
local checks, reads_body = cli.checks(args.check, "perftest run slo")
if reads_body then opts.keep_body = true end

local function gate(url)
  local stats = perftest.stats { name = url, thresholds = thresholds }
  local tick = perftest.every(args.delay)
  for i = 1, args.count do
    local r = perftest.probe(url, opts)
    if checks then stats:check(r, checks) end
    stats:add(r)
    if r.error and r.error_kind ~= "interrupted" then perftest.eprint(r.error) end
    if i == args.count or not tick:next() then break end
  end
  return stats
end

local classic = require "perftest.classic"
local started = perftest.clock()
local tasks = {}
for i, url in ipairs(args.positional) do tasks[i] = perftest.spawn(gate, url) end
for _, stats in ipairs(perftest.join_all(tasks)) do
  if args.jsonl then
    print(classic.stats_json(stats, stats:name(), { elapsed = perftest.clock() - started }))
    stats:summary { color = false } -- records the verdict for the exit code
  else
    io.write(stats:summary(), "\n")
  end
end
