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

local KEYWORDS = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
  "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

local function starts(s, prefix) return s:sub(1, #prefix) == prefix end

local function is_name(k) return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil end

--- The names `v.` (or, with `methods`, `v:`) can be followed by: a table's keys and those its
--- metatable's __index table adds (a result's json), a userdata's methods, a string's.
local function members(v, methods, native)
  local out = {}
  local function add(t, only_functions)
    for k, x in pairs(t) do
      if is_name(k) and not starts(k, "__") and (not only_functions or type(x) == "function") then
        out[k] = true
      end
    end
  end
  if type(v) == "table" then
    add(v, methods)
    local mt = getmetatable(v)
    if type(mt) == "table" and type(rawget(mt, "__index")) == "table" then add(mt.__index, methods) end
  elseif type(v) == "userdata" then
    for _, k in ipairs(native.members(v)) do out[k] = true end
  elseif type(v) == "string" and methods then
    add(string, true)
  end
  local list = {}
  for k in pairs(out) do list[#list + 1] = k end
  table.sort(list)
  return list
end

--- The value a dotted path names among the globals (`perftest.json`), or nil.
local function resolve(path)
  local v = _G
  for part in path:gmatch("[^.]+") do
    if type(v) ~= "table" and type(v) ~= "userdata" then return nil end
    local ok, x = pcall(function() return v[part] end)
    if not ok or x == nil then return nil end
    v = x
  end
  return v
end

--- Tab: the byte offset where the word being completed starts, and the candidates for it.
--- Global names; `a.b.` a table's fields; `s:` a value's methods; inside `probe(url, {` the
--- option names.
function M.complete(line, pos, native)
  local before = line:sub(1, pos)
  local args = before:match("probe%s*%(([^()]*)$")
  local inside = args and args:find(",") and args:match("{([^{}]*)$")
  if inside then
    local word = inside:match("([%a_][%w_]*)$") or ""
    local lead = inside:sub(1, #inside - #word)
    if lead:match("^%s*$") or lead:match(",%s*$") then
      local out = {}
      for _, k in ipairs(native.probe_options) do
        if starts(k, word) then out[#out + 1] = k .. " = " end
      end
      return pos - #word, out
    end
  end
  local expr = before:match("[%a_][%w_.:]*$")
  if not expr then return pos, {} end
  local path, sep, word = expr:match("^(.-)([.:])([%w_]*)$")
  local out = {}
  if not path then
    local seen = {}
    for k in pairs(_G) do
      if is_name(k) and starts(k, expr) then seen[k] = true end
    end
    for _, k in ipairs(KEYWORDS) do
      if starts(k, expr) then seen[k] = true end
    end
    for k in pairs(seen) do out[#out + 1] = k end
    table.sort(out)
    return pos - #expr, out
  end
  if path:find(":") then return pos, {} end
  local v = resolve(path)
  if v == nil then return pos, {} end
  for _, k in ipairs(members(v, sep == ":", native)) do
    if starts(k, word) then out[#out + 1] = k end
  end
  return pos - #word, out
end

return M
