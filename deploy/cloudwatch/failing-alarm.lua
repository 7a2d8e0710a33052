-- A CloudWatch metric-math alarm: URL failing from at least N of the given locations.
--
-- perftest run deploy/cloudwatch/failing-alarm.lua --url URL [--min N] [--failures K] LOCATION...
--   > alarm.json
-- aws cloudwatch put-metric-alarm --cli-input-json file://alarm.json
--
-- perftest publishes a failed sample (no response) under `HTTP Resp Code` 500, as the classic
-- tool did. A location fails when at least K of its samples in a 5-minute period failed (K = 3
-- of the 30 that -d 10 takes); the alarm fires when N locations fail for 2 periods running.
-- CloudWatch evaluates no SEARCH in an alarm and at most 10 metrics: one per location, so at
-- most 10 locations an alarm (make one per group of cities beyond that).
local perftest = require "perftest"
local cli = require "perftest.cli"

local args = cli.parse(perftest.args, {
  usage = "perftest run deploy/cloudwatch/failing-alarm.lua --url URL [--min N] [--failures K] LOCATION...",
  about = "Print a CloudWatch alarm (put-metric-alarm --cli-input-json) for URL failing from N locations.",
  options = {
    { nil, "url", "URL", "the TestUrl as perftest publishes it", type = "string" },
    { nil, "min", "N", "locations that must fail", type = "int", default = 2 },
    { nil, "failures", "K", "failed samples in 5 minutes that make a location fail", type = "int", default = 3 },
    { nil, "namespace", "NS", "the namespace published to", type = "string", default = "Http Perf Demo" },
  },
})
local locations = args.positional
if not args.url then perftest.exit(2, "failing-alarm: give --url URL (the TestUrl perftest publishes)") end
if #locations < args.min or #locations > 10 then
  perftest.exit(2, ("failing-alarm: give %d to 10 locations (FromLocation values), got %d"):format(args.min, #locations))
end

local metrics, terms = {}, {}
for i, loc in ipairs(locations) do
  local id = "f" .. i
  metrics[#metrics + 1] = {
    Id = id,
    Label = loc,
    ReturnData = false,
    MetricStat = {
      Metric = {
        Namespace = args.namespace,
        MetricName = "RespTime",
        Dimensions = {
          { Name = "TestUrl", Value = args.url },
          { Name = "HTTP Resp Code", Value = "500" },
          { Name = "FromLocation", Value = loc },
        },
      },
      Period = 300,
      Stat = "SampleCount",
    },
  }
  terms[#terms + 1] = ("(FILL(%s, 0) >= %d)"):format(id, args.failures)
end
metrics[#metrics + 1] = {
  Id = "failing",
  Label = "locations failing",
  Expression = table.concat(terms, " + "),
  ReturnData = true,
}

print(perftest.json.encode {
  AlarmName = ("perftest: %s failing from %d locations"):format(args.url, args.min),
  AlarmDescription = ("%d or more failed samples in 5 minutes from at least %d of: %s"):format(
    args.failures, args.min, table.concat(locations, "; ")),
  ComparisonOperator = "GreaterThanOrEqualToThreshold",
  Threshold = args.min,
  EvaluationPeriods = 2,
  DatapointsToAlarm = 2,
  TreatMissingData = "notBreaching",
  Metrics = metrics,
})
