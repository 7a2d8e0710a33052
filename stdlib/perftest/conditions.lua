-- Conditions over a probe result written as Lua expressions, in the spirit of Gatus: the
-- result's fields are in scope, `json()` decodes the kept body and `r` is the result itself.
-- Alert rules (`when = "total > 300 or error"`) and the --check options of the bundled
-- scenarios use them.
--
--   local conditions = require "perftest.conditions"
--   local up = conditions.compile('status == 200 and json().status == "UP"')
--   local r = perftest.probe(url, { keep_body = conditions.reads_body(expr) or nil })
--   if up(r) then ... end                  -- raises "<expr>: <why>" if the expression does
--   local checks = conditions.checks { "status == 200", 'body:find("ok")' }   -- for stats:check
local M = {}

--- The result's fields: in a condition they hide globals of the same name even when absent
--- (`error` is nil for a successful sample, not Lua's error function).
M.FIELDS = {}
for _, name in ipairs(require("perftest").fields) do M.FIELDS[name] = true end

-- Without "check:1: " in front: the expression itself names where.
local function reason(err) return (tostring(err):gsub("^[^:]*:%d+: ", "")) end

--- A function of a result evaluating `expr`, or nil and why it does not compile. The function
--- returns the expression's value and raises "why" (without a position) if evaluating it does.
function M.compile(expr)
  if type(expr) ~= "string" then return nil, "give a Lua expression as a string" end
  local current
  local function json() return current:json() end
  local env = setmetatable({}, {
    __index = function(_, k)
      if k == "json" then return json end
      if k == "r" then return current end
      local v = rawget(current, k)
      if v ~= nil or M.FIELDS[k] then return v end
      return _G[k]
    end,
  })
  local f, err = load("return (" .. expr .. ")", "=check", "t", env)
  if not f then return nil, reason(err) end
  return function(r)
    current = r
    local ok, v = pcall(f)
    current = nil
    if not ok then error(reason(v), 0) end
    return v
  end
end

--- True if `expr` reads the body (`body`, `json()`): the probe must then keep it.
function M.reads_body(expr)
  local padded = " " .. expr
  return padded:find("[^%w_%.:]body%f[^%w_]") ~= nil or padded:find("[^%w_%.:]json%s*%(") ~= nil
    or padded:find("[^%w_]r%s*[%.:]%s*json%f[^%w_]") ~= nil or padded:find("[^%w_]r%s*%.%s*body%f[^%w_]") ~= nil
end

--- stats:check's table from a list of expressions, each named by its text; or nil, the
--- expression that does not compile and why.
function M.checks(list)
  local out = {}
  for _, expr in ipairs(list) do
    local f, err = M.compile(expr)
    if not f then return nil, expr, err end
    out[expr] = f
  end
  return out
end

--- True if any expression of the list reads the body.
function M.any_reads_body(list)
  for _, expr in ipairs(list) do
    if M.reads_body(expr) then return true end
  end
  return false
end

return M
