-- How the REPL shows values: a probe result as a small waterfall, tables as Lua-like text.
local M = {}

local function is_result(v)
  return type(v) == "table" and type(v.url) == "string" and type(v.total) == "number"
    and v.status ~= nil and v.dns ~= nil
end

--- A probe result: status line, then each phase with a bar placed where it happened.
function M.result(r)
  local lines = {}
  local head = ("%s %s %s"):format(r.error and "ERROR" or tostring(r.status), r.version or "", r.url)
  if r.remote then head = head .. " -> " .. r.remote end
  if r.tls_version then head = head .. (" (%s %s)"):format(r.tls_version, r.alpn or "") end
  lines[1] = head .. ("  %d bytes"):format(r.size)
  if r.error then lines[#lines + 1] = ("  %s: %s"):format(r.error_kind, r.error) end
  local span = r.dns + r.total
  local width = 40
  local at = 0
  for _, p in ipairs { "dns", "tcp", "tls", "first", "lastb" } do
    local v = r[p]
    local from = span > 0 and math.floor(at / span * width + 0.5) or 0
    local to = span > 0 and math.floor((at + v) / span * width + 0.5) or 0
    local bar = (" "):rep(from) .. ("#"):rep(math.max(v > 0 and 1 or 0, to - from))
    lines[#lines + 1] = ("  %-6s %9.3f  %s"):format(p, v, bar)
    at = at + v
  end
  lines[#lines + 1] = ("  %-6s %9.3f ms (TCP + TLS + First + LastB)"):format("total", r.total)
  local i = r.tcp_info
  if i then
    -- The kernel's view of the connection as the sample ended (TCP_INFO).
    local rate = i.delivery_rate and (", %.1f MB/s"):format(i.delivery_rate / 1e6) or ""
    lines[#lines + 1] = ("  socket rtt %.3f ms (±%.3f%s), cwnd %d, pmtu %d, retrans %d, lost %d%s"):format(
      i.rtt, i.rttvar, i.min_rtt and (", min %.3f"):format(i.min_rtt) or "", i.cwnd, i.pmtu,
      i.total_retrans, i.lost, rate)
  end
  if r.cert then
    lines[#lines + 1] = ("  cert   %s, %d days left"):format(r.cert.subject, r.cert.days_left)
  end
  return table.concat(lines, "\n")
end

local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return k end
  return "[" .. M.inspect(k, 0, {}) .. "]"
end

--- Any value as text, tables nested up to `depth` levels.
function M.inspect(v, depth, seen)
  depth, seen = depth or 3, seen or {}
  local t = type(v)
  if t == "string" then return ("%q"):format(v) end
  if t ~= "table" then return tostring(v) end
  if seen[v] then return "<cycle>" end
  if depth <= 0 then return "{...}" end
  seen[v] = true
  local parts, n = {}, #v
  for i = 1, n do parts[#parts + 1] = M.inspect(v[i], depth - 1, seen) end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    parts[#parts + 1] = key_text(k) .. " = " .. M.inspect(v[k], depth - 1, seen)
  end
  seen[v] = nil
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if #parts == 0 then return "{}" end
  if #one <= 100 then return one end
  local pad = ("  "):rep(4 - depth)
  return "{\n" .. pad .. "  " .. table.concat(parts, ",\n" .. pad .. "  ") .. "\n" .. pad .. "}"
end

--- The text the REPL prints for a value.
function M.show(v)
  if is_result(v) then return M.result(v) end
  return M.inspect(v)
end

return M
