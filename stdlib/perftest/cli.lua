-- Command-line options for scenarios: `-n 5`, `-n=5`, `--count 5`, `--count=5`, flags, lists,
-- `--help` generated from the spec, and one-line errors that exit 2.
--
--   local cli = require "perftest.cli"
--   local args = cli.parse(perftest.args, {
--     usage = "perftest run slo [options] URL...",
--     about = "N probes per URL; exit 99 if a threshold fails.",
--     options = {
--       { "n", "count", "N", "probes per URL", type = "int", default = 20 },
--       { "k", "insecure", nil, "do not verify TLS certificates", type = "flag" },
--       { "t", "threshold", "'METRIC EXPR'", "a threshold (repeatable)", type = "list" },
--     },
--     positional = { name = "URL", min = 1 },
--   })
--   -- args.count, args.insecure, args.threshold (a list), args.positional (the URLs)
local perftest = require "perftest"

local M = {}

--- The probe options most scenarios take; add them with cli.with_probe_options(spec).
M.PROBE_OPTIONS = {
  { "k", "insecure", nil, "do not verify TLS certificates", type = "flag" },
  { nil, "cacert", "FILE", "trust the CA certificates in FILE", type = "string" },
  { nil, "http2", nil, "offer HTTP/2 by ALPN", type = "flag" },
  { nil, "timeout", "S", "seconds allowed for a whole sample", type = "number", default = 30 },
  { "H", "header", "'Name: value'", "send this header (repeatable)", type = "list" },
  { "X", "method", "METHOD", "request method", type = "string" },
  { "4", "ipv4", nil, "connect over IPv4 only", type = "flag" },
  { "6", "ipv6", nil, "connect over IPv6 only", type = "flag" },
  { nil, "dns-server", "ADDR", "ask this name server (IP or IP:PORT)", type = "string" },
}

--- Adds the common probe options to a spec's options.
function M.with_probe_options(spec)
  for _, o in ipairs(M.PROBE_OPTIONS) do spec.options[#spec.options + 1] = o end
  return spec
end

local function fail(spec, msg)
  local name = spec.usage and spec.usage:match("^(perftest run %S+)") or "perftest"
  perftest.exit(2, ("%s: %s (see --help)"):format(name, msg))
end

local function by_long_of(spec)
  local by_long = {}
  for _, o in ipairs(spec.options) do by_long[o[2]] = o end
  return by_long
end

local function help(spec)
  local lines = { "Usage: " .. spec.usage, "" }
  if spec.about then lines[#lines + 1] = spec.about; lines[#lines + 1] = "" end
  lines[#lines + 1] = "Options:"
  for _, o in ipairs(spec.options) do
    local short, long, meta, text = o[1], o[2], o[3], o[4]
    local left = (short and ("-" .. short .. ", ") or "    ") .. "--" .. long .. (meta and (" " .. meta) or "")
    local default = o.default ~= nil and (" [default: " .. tostring(o.default) .. "]") or ""
    lines[#lines + 1] = ("  %-30s %s%s"):format(left, text, default)
  end
  if not by_long_of(spec).color then
    lines[#lines + 1] = ("  %-30s %s"):format("    --color WHEN", "colour: auto, always or never [default: auto]")
  end
  lines[#lines + 1] = ("  %-30s %s"):format("-h, --help", "show this help")
  print(table.concat(lines, "\n"))
  perftest.exit(0)
end

local function convert(spec, o, text)
  local kind = o.type or "string"
  if kind == "int" or kind == "number" then
    local n = tonumber(text)
    if n == nil or (kind == "int" and n ~= math.floor(n)) or n < 0 then
      fail(spec, ("--%s '%s': give a%s number, 0 or more"):format(o[2], text, kind == "int" and " whole" or ""))
    end
    return kind == "int" and math.floor(n) or n
  end
  return text
end

--- Parses `list` (perftest.args) by `spec`; returns options by long name, and `positional`.
function M.parse(list, spec)
  local by_short, by_long = {}, {}
  for _, o in ipairs(spec.options) do
    if o[1] then by_short[o[1]] = o end
    by_long[o[2]] = o
  end
  local out, positional = {}, {}
  for _, o in ipairs(spec.options) do
    if o.type == "list" then out[o[2]] = {} elseif o.default ~= nil then out[o[2]] = o.default end
  end
  local i = 1
  while i <= #list do
    local a = list[i]
    if a == "-h" or a == "--help" then help(spec) end
    local name, value, o
    if a == "--" then
      for j = i + 1, #list do positional[#positional + 1] = list[j] end
      break
    elseif a:sub(1, 2) == "--" then
      name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      o = by_long[name]
      if not o and name == "color" then
        -- Every scenario takes perftest's own --color, unless it defines one itself.
        if value == nil then i = i + 1; value = list[i] end
        if not pcall(perftest.colors, value) then
          fail(spec, ("--color '%s': give auto, always or never"):format(tostring(value)))
        end
        name = nil
      elseif not o then
        fail(spec, ("unknown option '--%s'"):format(name))
      end
    elseif a:sub(1, 1) == "-" and #a > 1 and not tonumber(a) then
      name = a:sub(2, 2)
      o = by_short[name]
      if not o then fail(spec, ("unknown option '-%s'"):format(name)) end
      local rest = a:sub(3)
      if rest ~= "" then value = rest:gsub("^=", "") end
    else
      positional[#positional + 1] = a
    end
    if o then
      if o.type == "flag" then
        if value ~= nil then fail(spec, ("--%s takes no value"):format(o[2])) end
        out[o[2]] = true
      else
        if value == nil then
          i = i + 1
          value = list[i]
          if value == nil then fail(spec, ("--%s needs a value (%s)"):format(o[2], o[3] or "VALUE")) end
        end
        if o.type == "list" then
          local l = out[o[2]]
          l[#l + 1] = value
        else
          out[o[2]] = convert(spec, o, value)
        end
      end
    end
    i = i + 1
  end
  local p = spec.positional
  if p and #positional < (p.min or 0) then
    fail(spec, ("give at least %d %s"):format(p.min, p.name))
  end
  if p and p.max and #positional > p.max then
    fail(spec, ("give at most %d %s"):format(p.max, p.name))
  end
  -- URLs are checked here, before anything runs: a bad one is a usage error naming it.
  if p and p.name:match("^URL") then
    for _, u in ipairs(positional) do
      local _, err = perftest.parse_url(u)
      if err then fail(spec, err) end
    end
  end
  out.positional = positional
  return out
end

--- The perftest.probe options from parsed common options.
function M.probe_opts(args)
  local headers = {}
  for _, h in ipairs(args.header or {}) do
    local name, value = h:match("^%s*([^:]+):%s*(.-)%s*$")
    if not name then perftest.exit(2, ("perftest: -H '%s': write a header as 'Name: value'"):format(h)) end
    -- A name given twice is sent twice, as curl does.
    if headers[name] == nil then headers[name] = value
    elseif type(headers[name]) == "table" then table.insert(headers[name], value)
    else headers[name] = { headers[name], value } end
  end
  return {
    insecure = args.insecure, cacert = args.cacert, http2 = args.http2,
    timeout = args.timeout, headers = headers, method = args.method,
    ip = args.ipv4 and "v4" or args.ipv6 and "v6" or nil, dns_server = args["dns-server"],
  }
end

--- The --check option, Gatus-style conditions every sample must meet.
M.CHECK_OPTION = { nil, "check", "EXPR",
  "a Lua condition each sample must meet, the result's fields in scope and json() bound: 'status == 200', 'json().status == \"UP\"', 'cert.days_left > 14', 'body:find(\"ok\")' (repeatable; one that reads the body keeps it)",
  type = "list" }

--- stats:check's table from --check expressions (nil when none) and whether one reads the
--- body; an expression that does not compile ends the run (exit 2) with a line naming it.
function M.checks(list, name)
  if not list or #list == 0 then return nil, false end
  local conditions = require "perftest.conditions"
  local checks, expr, err = conditions.checks(list)
  if not checks then
    perftest.exit(2, ("%s: --check '%s': %s"):format(name or "perftest", expr, err))
  end
  return checks, conditions.any_reads_body(list)
end

--- Thresholds from '-t "METRIC EXPR"' strings, as a perftest.stats thresholds table.
function M.thresholds(list, into)
  into = into or {}
  for _, t in ipairs(list or {}) do
    local metric, expr = t:match("^%s*([%w_]+)%s*[:]?%s+(.+)$")
    if not metric then
      perftest.exit(2, ("perftest: threshold '%s': write it as 'METRIC EXPR', e.g. 'total p(95) < 300'"):format(t))
    end
    into[metric] = into[metric] or {}
    table.insert(into[metric], expr)
  end
  return into
end

return M
