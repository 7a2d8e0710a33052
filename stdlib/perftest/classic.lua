-- The classic perftest's output, byte for byte: the TSV header and rows, the Go tool's JSON (its
-- PingTimes struct), our JSON lines and the per-URL summary of averages.
local perftest = require "perftest"

local M = {}

M.HEADER = "# timestamp\tDNS\tTCP\tTLS\tFirst\tLastB\tTotal\tHTTP\tSize\tFrom_Location\tRemote_Addr\tproto://uri"

--- 41s, 3m07s, 1h02m09s.
function M.hhmmss(secs)
  local h, m, s = secs // 3600, secs % 3600 // 60, secs % 60
  if h > 0 then return ("%dh%02dm%02ds"):format(h, m, s) end
  if m > 0 then return ("%dm%02ds"):format(m, s) end
  return ("%ds"):format(s)
end

--- The HTTP column: the status, or 500 when the sample failed.
function M.status(r)
  if r.error then return 500 end
  return r.status
end

--- The classic tool's CloudWatch namespace.
M.CLOUDWATCH_NAMESPACE = "Http Perf Demo"

--- The classic tool's CloudWatch dimensions: TestUrl, HTTP Resp Code (three digits, 500 for a
--- failed sample), FromLocation.
function M.cloudwatch_dimensions(r)
  return {
    TestUrl = r.url or "",
    ["HTTP Resp Code"] = ("%03d"):format(M.status(r) or 0),
    FromLocation = r.location or "",
  }
end

--- perftest.cloudwatch's options for the classic -c: its namespace, metric RespTime (the
--- default) and dimensions, sent every `interval` seconds (nil: 10).
function M.cloudwatch_options(interval)
  return { namespace = M.CLOUDWATCH_NAMESPACE, dimensions = M.cloudwatch_dimensions, interval = interval }
end

-- A tab, CR or LF (from REP_LOCATION, say) would add columns or rows: a space in the TSV.
local function cell(s) return (s:gsub("[\t\r\n]", " ")) end

--- The Remote_Addr column: the address that answered, an IPv6 one in brackets as Go's
--- HostNoPort leaves it; "undefined" when the sample never connected.
function M.remote(r)
  if r.remote == nil then return "undefined" end
  if r.remote:find(":", 1, true) then return "[" .. r.remote .. "]" end
  return r.remote
end

--- One TSV row (without the newline), numbered `n`.
function M.row(n, r)
  return ("%d %d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%03d\t%d\t%s\t%s\t%s"):format(
    n, math.floor(r.start), r.dns, r.tcp, r.tls, r.first, r.lastb, r.total,
    M.status(r), r.size, cell(r.location), M.remote(r), r.url)
end

local function q(s) return perftest.json.encode(s) end
local function ms(x) return ("%.3f"):format(x) end

-- Go's encoding/json escapes these too (its HTML-safe default).
local GO_ESCAPES = { ["<"] = "\\u003c", [">"] = "\\u003e", ["&"] = "\\u0026" }
local function go_q(s)
  return (q(s):gsub("[<>&]", GO_ESCAPES):gsub("\226\128\168", "\\u2028"):gsub("\226\128\169", "\\u2029"))
end

--- Epoch seconds as Go's time.RFC3339Nano in the local zone: 2019-04-10T17:35:03.81234+02:00
--- (the fraction's trailing zeros trimmed, Z for a zero offset). Microseconds, as r.start has.
function M.rfc3339nano(t)
  local us = math.floor(t * 1e6 + 0.5)
  local secs, frac = us // 1000000, us % 1000000
  local s = os.date("%Y-%m-%dT%H:%M:%S", secs)
  if frac > 0 then s = s .. (("." .. ("%06d"):format(frac)):gsub("0+$", "")) end
  local z = os.date("%z", secs)
  if z == "+0000" or z == "-0000" then return s .. "Z" end
  return s .. z:sub(1, 3) .. ":" .. z:sub(4, 5)
end

local location
--- The location as the environment gives it (Go's PingTimes.Location): REP_LOCATION, else
--- REP_CITY,REP_COUNTRY, else whichever of them is set, else "" (no IP address fallback).
function M.env_location()
  if location == nil then
    local function get(k) return perftest.env(k) or "" end
    local loc, city, cc = get("REP_LOCATION"), get("REP_CITY"), get("REP_COUNTRY")
    if loc ~= "" then location = loc
    elseif city ~= "" and cc ~= "" then location = city .. "," .. cc
    else location = city .. cc end
  end
  return location
end

local function ns(x) return math.floor(x * 1e6 + 0.5) end

--- The Go tool's JSON for one sample, its PingTimes struct: indented two spaces as -j prints
--- it, or compact as -W posts it. Times in integer nanoseconds; RespCode 500 for a failure.
function M.go_json(r, indent)
  local fields = {
    { "Start", go_q(M.rfc3339nano(r.start)) },
    { "DnsLk", ns(r.dns) }, { "TcpHs", ns(r.tcp) }, { "TlsHs", ns(r.tls) },
    { "Reply", ns(r.first) }, { "Close", ns(r.lastb) }, { "Total", ns(r.total) },
    { "DestUrl", go_q(r.url) }, { "Location", go_q(M.env_location()) },
    { "Remote", go_q(M.remote(r)) }, { "RespCode", M.status(r) }, { "Size", r.size },
  }
  local parts, sep = {}, indent and ": " or ":"
  for i, f in ipairs(fields) do parts[i] = '"' .. f[1] .. '"' .. sep .. f[2] end
  if indent then return "{\n  " .. table.concat(parts, ",\n  ") .. "\n}" end
  return "{" .. table.concat(parts, ",") .. "}"
end

--- One JSON object (one line, docs/schema/sample.json): every field of the row, times in ms,
--- plus the error.
function M.json_row(n, r)
  return table.concat({
    '{"type":"sample","n":', n,
    ',"timestamp":', math.floor(r.start),
    ',"dns":', ms(r.dns), ',"tcp":', ms(r.tcp), ',"tls":', ms(r.tls),
    ',"first":', ms(r.first), ',"lastb":', ms(r.lastb), ',"total":', ms(r.total),
    ',"http":', M.status(r), ',"status":', r.status, ',"size":', r.size,
    ',"from_location":', q(r.location), ',"remote_addr":', q(r.remote or ""),
    ',"url":', q(r.url),
    ',"error":', r.error and q(r.error) or "null",
    ',"error_kind":', r.error_kind and q(r.error_kind) or "null",
    r.tcp_info and (',"tcp_info":' .. M.tcp_info_json(r.tcp_info)) or "",
    '}' })
end

local TCP_FIELDS = { "rtt", "rttvar", "min_rtt", "retransmits", "total_retrans", "lost", "cwnd", "pmtu", "delivery_rate" }

--- r.tcp_info as a JSON object (times in ms), the fields this kernel gave.
function M.tcp_info_json(t)
  local parts = {}
  for _, k in ipairs(TCP_FIELDS) do
    local v = t[k]
    if v then parts[#parts + 1] = ('"%s":%s'):format(k, math.type(v) == "integer" and v or ms(v)) end
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

--- A running summary for one URL.
function M.summary(url)
  return { url = url, samples = 0, ok = 0, failed = 0, first_start = nil,
           dns = 0, tcp = 0, tls = 0, first = 0, lastb = 0, total = 0, size = 0 }
end

--- Adds a sample; only successful ones count in the averages, as the classic tool's did.
function M.add(s, r)
  s.samples = s.samples + 1
  s.first_start = s.first_start or r.start
  if r.error then s.failed = s.failed + 1; return end
  s.ok = s.ok + 1
  for _, k in ipairs { "dns", "tcp", "tls", "first", "lastb", "total" } do s[k] = s[k] + r[k] end
  s.size = s.size + r.size
end

local function elapsed(s)
  return math.floor(perftest.now()) - math.floor(s.first_start or perftest.now())
end

--- The summary text: a blank line, the count and time, the header, the averages, a blank line.
function M.summary_text(s)
  if s.ok == 0 then return "No valid samples received, no summary provided\n" end
  local n, e = s.ok, M.hhmmss(elapsed(s))
  return ("\nRecorded %d samples in %s, average values:\n%s\n%d %-6s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\t%d\t\t%s\n\n"):format(
    n, e, M.HEADER, n, e, s.dns / n, s.tcp / n, s.tls / n, s.first / n, s.lastb / n, s.total / n,
    s.size // n, s.url)
end

--- The summary as one JSON line for --jsonl (docs/schema/summary.json): the vocabulary every
--- scenario's summary shares, with only the averages, as the text summary has.
function M.summary_json(s)
  local n = s.ok
  local avg = function(k) return n > 0 and ('{"avg":%s}'):format(ms(s[k] / n)) or "{}" end
  return table.concat({
    '{"type":"summary","url":', q(s.url), ',"count":', s.samples, ',"ok":', n,
    ',"failed":', s.failed, ',"elapsed":', elapsed(s),
    ',"dns":', avg "dns", ',"tcp":', avg "tcp", ',"tls":', avg "tls", ',"first":', avg "first",
    ',"lastb":', avg "lastb", ',"total":', avg "total",
    ',"size":', n > 0 and ('{"avg":%d}'):format(s.size // n) or "{}", '}' })
end

--- A stats object's summary as one JSON line for --jsonl (docs/schema/summary.json): its
--- stats:table() with type = "summary", the target's `url`, the thresholds' verdicts when it
--- has some, and `extra` (elapsed, dropped, ...).
function M.stats_json(stats, url, extra)
  local t = stats:table()
  t.type, t.url = "summary", url
  local verdicts = stats:check()
  if #verdicts > 0 then t.thresholds = verdicts end
  for k, v in pairs(extra or {}) do t[k] = v end
  return perftest.json.encode(t)
end

return M
