-- load: a bounded load test, for a duration or a count, with a percentile summary. Run by
-- perftest's Rust engine: closed model (-c workers, each sending its next request when the
-- last one ended) or open model (--rate starts per second, whatever the responses take), for a
-- duration (-d) or a number of requests (-n), over new connections (every request measures
-- DNS, TCP and TLS) or kept ones (--reuse, keep-alive).
-- A progress bar on a terminal; Ctrl-C stops early and still prints the summary. Thresholds as
-- in slo: exit 99 when one fails; -t '... abort' stops the load as soon as it fails.
--
-- perftest run load [-c N | --rate R] [-d S | -n N] [--reuse] [-t 'METRIC EXPR']... [--jsonl]
--                   [-k] [--cacert FILE] [--http2] [--timeout S] [-H 'Name: v'] [-X M] URL
-- Example: perftest run load -c 50 -d 10 --reuse -t 'total p(99) < 100' https://example.com/
local perftest = require "perftest"
local cli = require "perftest.cli"

local args = cli.parse(perftest.args, cli.with_probe_options {
  usage = "perftest run load [options] URL",
  about = "A bounded load test: concurrency or a request rate, for a duration or a count.",
  options = {
    { "c", "concurrency", "N", "workers, each one request after the other (closed model)", type = "int" },
    { "r", "rate", "R", "requests started per second (open model)", type = "number" },
    { nil, "max-in-flight", "N", "open model: at most N requests out at once, the rest dropped", type = "int", default = 10000 },
    { "d", "duration", "S", "seconds to run", type = "number" },
    { "n", "requests", "N", "requests to send in all", type = "int" },
    { nil, "reuse", nil, "keep connections between requests (keep-alive)", type = "flag" },
    { "t", "threshold", "'METRIC EXPR'", "a threshold; end with ' abort' to stop on failure (repeatable)", type = "list" },
    { "j", "jsonl", nil, "print the summary as one JSON line", type = "flag" },
    { nil, "no-progress", nil, "no progress bar", type = "flag" },
  },
  positional = { name = "URL", min = 1, max = 1 },
})
if args.concurrency and args.rate then
  perftest.exit(2, "perftest run load: give -c (closed model) or --rate (open model), not both")
end
if not args.duration and not args.requests then args.duration = 10 end

-- '-t "total p(99) < 100 abort"' stops the load as soon as the threshold fails.
local thresholds = {}
for _, t in ipairs(args.threshold) do
  local body = t:match("^(.-)%s+abort%s*$")
  local metric, expr = (body or t):match("^%s*([%w_]+)%s*[:]?%s+(.+)$")
  if not metric then perftest.exit(2, ("perftest run load: threshold '%s': write 'METRIC EXPR', e.g. 'total p(99) < 100'"):format(t)) end
  thresholds[metric] = thresholds[metric] or {}
  table.insert(thresholds[metric], { threshold = expr, abort_on_fail = body ~= nil })
end

local ok, err = pcall(perftest.thresholds, thresholds)
if not ok then perftest.exit(2, "perftest run load: " .. tostring(err):gsub("^.-:%d+: ", "")) end

-- A value out of range (a rate the clock cannot keep, more workers than the open-file limit
-- allows) is a usage error, named by its flag.
local FLAGS = { concurrency = "-c", rate = "--rate", max_in_flight = "--max-in-flight", duration = "-d" }
local ok, stats, info = pcall(perftest.load, {
  url = args.positional[1],
  opts = cli.probe_opts(args),
  concurrency = args.rate == nil and (args.concurrency or 10) or nil,
  rate = args.rate,
  max_in_flight = args["max-in-flight"],
  duration = args.duration,
  requests = args.requests,
  reuse = args.reuse,
  progress = not args["no-progress"],
  thresholds = thresholds,
})
if not ok then
  local why = tostring(stats):gsub("^.-:%d+: ", ""):gsub("^perftest%.load: ", "")
  why = why:gsub("^([%w_]+) ", function(key) return (FLAGS[key] or key) .. " " end)
  perftest.exit(2, "perftest run load: " .. why)
end

if args.jsonl then
  print(require("perftest.classic").stats_json(stats, args.positional[1], { elapsed = info.elapsed, dropped = info.dropped }))
  stats:summary { color = false }
else
  io.write(stats:summary())
  local model = args.rate and ("%g/s open model"):format(args.rate)
    or ("%d workers"):format(args.concurrency or 10)
  print(("  load      %s, %s connections, %.1fs%s"):format(model, args.reuse and "kept" or "new",
    info.elapsed, info.dropped > 0 and (", %d starts dropped (max in flight)"):format(info.dropped) or ""))
end
