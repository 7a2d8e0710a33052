-- compare: URLs probed in turn, their phase percentiles side by side with the differences.
-- One sample of each URL per round, so that every URL meets the same network at the same
-- moments; then a table of percentiles per phase and each URL's difference from the first.
--
-- perftest run compare [-n ROUNDS] [-d S] [-p PCT]... [-k] [--cacert FILE] [--http2] URL URL...
--
-- Example: perftest run compare -n 50 https://old.example/ https://new.example/
local perftest = require "perftest"
local cli = require "perftest.cli"

local args = cli.parse(perftest.args, cli.with_probe_options {
  usage = "perftest run compare [options] URL URL...",
  about = "URLs probed in turn; phase percentiles side by side with the difference from the first URL.",
  options = {
    { "n", "rounds", "N", "rounds (one sample of every URL each)", type = "int", default = 20 },
    { "d", "delay", "S", "seconds between rounds", type = "number", default = 0.2 },
    { "p", "percentile", "PCT", "percentiles to compare (repeatable)", type = "list" },
  },
  positional = { name = "URLs", min = 2 },
})

local urls = args.positional
local pcts = {}
for _, p in ipairs(#args.percentile > 0 and args.percentile or { "50", "95" }) do
  local n = tonumber(p)
  if not n or n < 0 or n > 100 then perftest.exit(2, ("perftest run compare: -p %s: give 0 to 100"):format(p)) end
  pcts[#pcts + 1] = n
end
local opts = cli.probe_opts(args)

local stats = {}
for i, url in ipairs(urls) do stats[i] = perftest.stats(url) end
local tick = perftest.every(args.delay)
for round = 1, args.rounds do
  for i, url in ipairs(urls) do
    local r = perftest.probe(url, opts)
    if r.error_kind == "interrupted" then break end
    stats[i]:add(r)
    if r.error then perftest.eprint(("#%d %s"):format(i, r.error)) end
  end
  if round == args.rounds or not tick:next() then break end
end

-- The table: for each percentile, a column per URL, then each URL's difference from #1.
local function fmt(v) return v and ("%.2f"):format(v) or "-" end
local function diff(a, b)
  if not (a and b) then return "-" end
  local d = b - a
  -- A percentage of a near-zero figure (a loopback handshake) says nothing.
  local pct = a >= 1 and (" (%+.0f%%)"):format(100 * d / a) or ""
  return ("%+.2f%s"):format(d, pct)
end

for i, url in ipairs(urls) do
  print(("#%d %s  %d samples, %d failed"):format(i, url, stats[i]:count(), stats[i]:failed()))
end
print()
for _, p in ipairs(pcts) do
  local head = { ("%-7s"):format("p" .. p) }
  for i = 1, #urls do head[#head + 1] = ("%10s"):format("#" .. i) end
  for i = 2, #urls do head[#head + 1] = ("%18s"):format("#" .. i .. " - #1") end
  print(perftest.color(table.concat(head), "bold"))
  for _, phase in ipairs { "dns", "tcp", "tls", "first", "lastb", "total" } do
    local values, any = {}, false
    for i = 1, #urls do
      values[i] = stats[i]:percentile(phase, p)
      any = any or (values[i] or 0) > 0
    end
    if any then
      local row = { ("%-7s"):format(phase) }
      for i = 1, #urls do row[#row + 1] = ("%10s"):format(fmt(values[i])) end
      for i = 2, #urls do
        local d = diff(values[1], values[i])
        local colour = (values[i] or 0) > (values[1] or 0) and "red" or "green"
        row[#row + 1] = (" "):rep(math.max(0, 18 - #d)) .. perftest.color(d, colour)
      end
      print(table.concat(row))
    end
  end
  print()
end
