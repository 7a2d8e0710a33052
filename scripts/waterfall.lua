-- waterfall: one URL's phases as an httpstat-style waterfall. The response's status line and
-- headers, then each phase as a box with its duration and curl's cumulative timings under it.
-- Colour on a terminal only. With -n N it probes N times and draws the median sample (by Total).
--
-- perftest run waterfall [-n N] [-L] [-k] [--cacert FILE] [--http2] [-H 'Name: v'] URL
local perftest = require "perftest"
local cli = require "perftest.cli"

local args = cli.parse(perftest.args, cli.with_probe_options {
  usage = "perftest run waterfall [options] URL",
  about = "The phases of one request as an httpstat-style waterfall.",
  options = {
    { "n", "count", "N", "probe N times and draw the median sample", type = "int", default = 1 },
    { "L", "location", nil, "follow redirects", type = "flag" },
  },
  positional = { name = "URL", min = 1, max = 1 },
})
local url = args.positional[1]
local opts = cli.probe_opts(args)
opts.follow_redirects = args.location or nil

local samples = {}
for _ = 1, math.max(1, args.count) do
  local r = perftest.probe(url, opts)
  if r.error_kind == "interrupted" then break end
  samples[#samples + 1] = r
end
if #samples == 0 then perftest.exit(130) end
table.sort(samples, function(a, b) return a.total < b.total end)
local r = samples[(#samples + 1) // 2]

local c = perftest.color
local where = r.remote and ("%s port %d"):format(r.remote, r.port) or "nothing"
local tls = r.tls_version and (", %s %s"):format(r.tls_version, r.alpn or "") or ""
print(("Connected to %s%s from %s"):format(c(where, "cyan"), tls, perftest.location))
print()
if r.error then
  print(c(r.error, "red"))
  print()
end
if r.status ~= 0 then
  print(c(r.version or "HTTP", "green") .. " " .. c(tostring(r.status), "cyan"))
  local names = {}
  for k in pairs(r.headers or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do print(c(k, "gray") .. ": " .. c(r.headers[k], "cyan")) end
  print()
end
if r.cert then
  print(("Certificate %s, issued by %s, %d days left"):format(r.cert.subject, r.cert.issuer, r.cert.days_left))
  print()
end

-- The boxes: one per phase, each 15 characters wide, the duration centred in it.
local function ms(x) return x < 10 and ("%.2fms"):format(x) or ("%dms"):format(math.floor(x + 0.5)) end
local function centre(s, w)
  local left = (w - #s) // 2
  return (" "):rep(left) .. s .. (" "):rep(w - #s - left)
end
local phases = {
  { "DNS Lookup", r.dns }, { "TCP Connection", r.tcp }, { "TLS Handshake", r.tls },
  { "Server Processing", r.first }, { "Content Transfer", r.lastb },
}
if not r.tls_version then table.remove(phases, 3) end
local w = 19
local heads, boxes = {}, {}
for i, p in ipairs(phases) do
  heads[i] = centre(p[1], w)
  boxes[i] = c(centre(ms(p[2]), w), "cyan")
end
print(" " .. table.concat(heads, " "))
print("[" .. table.concat(boxes, "|") .. "]")

-- Under the boxes, curl's cumulative names: namelookup, connect, pretransfer, starttransfer, total.
local marks = { { "namelookup", r.dns }, { "connect", r.dns + r.tcp } }
if r.tls_version then marks[#marks + 1] = { "pretransfer", r.dns + r.tcp + r.tls } end
marks[#marks + 1] = { "starttransfer", r.dns + r.tcp + r.tls + r.first }
marks[#marks + 1] = { "total", r.dns + r.total }
local bars = {}
for i = 1, #phases do bars[i] = (" "):rep(w) end
local rail = " " .. table.concat(bars, "|") .. "|"
print(rail)
for i, m in ipairs(marks) do
  local col = 1 + i * (w + 1)
  local label = ("%s:%s"):format(m[1], ms(m[2]))
  local line = rail:sub(1, col - #label) .. c(label, "cyan") .. rail:sub(col + 1)
  print(line)
end
print()
print(("Total (TCP + TLS + First + LastB, without DNS): %s; %d bytes"):format(ms(r.total), r.size))
-- A request that failed is drawn as far as it went; the run then exits 69, as every scenario
-- in which no sample got a response does.
