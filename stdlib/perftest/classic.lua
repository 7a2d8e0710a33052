-- The classic perftest's output, byte for byte: the TSV header and rows, the JSON form and the
-- per-URL summary of averages.
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

-- A tab, CR or LF (from REP_LOCATION, say) would add columns or rows: a space in the TSV.
local function cell(s) return (s:gsub("[\t\r\n]", " ")) end

--- One TSV row (without the newline), numbered `n`.
function M.row(n, r)
  return ("%d %d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%03d\t%d\t%s\t%s\t%s"):format(
    n, math.floor(r.start), r.dns, r.tcp, r.tls, r.first, r.lastb, r.total,
    M.status(r), r.size, cell(r.location), r.remote or "undefined", r.url)
end

local function q(s) return perftest.json.encode(s) end
local function ms(x) return ("%.3f"):format(x) end

--- One JSON object (one line): every field of the row, times in ms, plus the error.
function M.json_row(n, r)
  return table.concat({
    '{"n":', n,
    ',"timestamp":', math.floor(r.start),
    ',"dns":', ms(r.dns), ',"tcp":', ms(r.tcp), ',"tls":', ms(r.tls),
    ',"first":', ms(r.first), ',"lastb":', ms(r.lastb), ',"total":', ms(r.total),
    ',"http":', M.status(r), ',"status":', r.status, ',"size":', r.size,
    ',"from_location":', q(r.location), ',"remote_addr":', q(r.remote or ""),
    ',"url":', q(r.url),
    ',"error":', r.error and q(r.error) or "null",
    ',"error_kind":', r.error_kind and q(r.error_kind) or "null",
    '}' })
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

--- The summary as one JSON line, for -j.
function M.summary_json(s)
  local n = s.ok
  local avg = function(k) return n > 0 and ms(s[k] / n) or "null" end
  return table.concat({
    '{"summary":', q(s.url), ',"samples":', s.samples, ',"ok":', n, ',"failed":', s.failed,
    ',"elapsed":', q(M.hhmmss(elapsed(s))), ',"elapsed_s":', elapsed(s),
    ',"dns":', avg "dns", ',"tcp":', avg "tcp", ',"tls":', avg "tls", ',"first":', avg "first",
    ',"lastb":', avg "lastb", ',"total":', avg "total",
    ',"size":', n > 0 and s.size // n or "null", '}' })
end

return M
