-- flow: log in, then fetch a protected page with the token, checked; per step and whole flow.
-- Each run opens a session (its own connection and cookies), POSTs the credentials as JSON to
-- LOGIN_URL, takes the token from the answer's JSON (--token, a dotted path), fetches PAGE_URL
-- with it (--auth, "Authorization: Bearer {token}" by default; cookies the login set go along
-- too) and checks what came back (--check, 'status == 200' by default). The summary shows each
-- step's phases and the whole flow's (each phase summed over its steps); thresholds on the
-- flow (--errors, 0.01 by default, and -t) and on each step (--login-threshold,
-- --page-threshold); exit 99 when one fails.
--
-- perftest run flow [-n N] [-d S] [--user U] [--password P] [--token FIELD] [--auth 'NAME: VALUE']
--                   [--check EXPR]... [--errors RATE] [-t 'METRIC EXPR']... [--login-threshold 'METRIC EXPR']...
--                   [--page-threshold 'METRIC EXPR']... [--jsonl] [-k] [--cacert FILE]
--                   LOGIN_URL PAGE_URL
--
-- The password comes from --password or PERFTEST_PASSWORD (kept off the process list):
--   PERFTEST_PASSWORD=s3cret perftest run flow --user probe --check 'json().user == "probe"' \
--     -t 'total p(95) < 800' --login-threshold 'total p(95) < 300' \
--     https://api.example/login https://api.example/me
local perftest = require "perftest"
local cli = require "perftest.cli"

local NAME = "perftest run flow"
local args = cli.parse(perftest.args, cli.with_probe_options {
  usage = "perftest run flow [options] LOGIN_URL PAGE_URL",
  about = "Log in with a JSON POST, fetch a protected page with the token, check it; stats per step and for the flow.",
  options = {
    { "n", "count", "N", "runs of the flow", type = "int", default = 10 },
    { "d", "delay", "S", "seconds between runs", type = "number", default = 1 },
    { "u", "user", "USER", "the user to log in as (or PERFTEST_USER)", type = "string" },
    { nil, "password", "PASS", "the password (better: PERFTEST_PASSWORD)", type = "string" },
    { nil, "token", "FIELD", "where the login answer's JSON has the token, a dotted path", type = "string", default = "token" },
    { nil, "auth", "'NAME: VALUE'", "how the page gets the token ({token} is replaced)", type = "string", default = "Authorization: Bearer {token}" },
    cli.CHECK_OPTION,
    { nil, "errors", "RATE", "the share of failed runs must stay under RATE", type = "number", default = 0.01 },
    { "t", "threshold", "'METRIC EXPR'", "another threshold on the whole flow, e.g. 'total p(95) < 800' (repeatable)", type = "list" },
    { nil, "login-threshold", "'METRIC EXPR'", "a threshold on the login step (repeatable)", type = "list" },
    { nil, "page-threshold", "'METRIC EXPR'", "a threshold on the page step (repeatable)", type = "list" },
    { "j", "jsonl", nil, "print the result as one JSON line", type = "flag" },
  },
  positional = { name = "URL", min = 2, max = 2 },
})
local login_url, page_url = args.positional[1], args.positional[2]
local user = args.user or perftest.env("PERFTEST_USER")
local password = args.password or perftest.env("PERFTEST_PASSWORD")
if not user or not password then
  perftest.exit(2, NAME .. ": give --user (or PERFTEST_USER) and PERFTEST_PASSWORD (or --password)")
end
local auth_name, auth_value = args.auth:match("^%s*([^:]+):%s*(.-)%s*$")
if not auth_name or not auth_value:find("{token}", 1, true) then
  perftest.exit(2, ("%s: --auth '%s': write it as 'Name: value with {token}'"):format(NAME, args.auth))
end

-- Checks and thresholds are compiled before any probe: a mistake fails here, not after.
local page_checks, reads_body = cli.checks(#args.check > 0 and args.check or { "status == 200" }, NAME)
local function thresholds(list, into)
  local t = cli.thresholds(list, into)
  if next(t) == nil then return nil end
  local ok, err = pcall(perftest.thresholds, t)
  if not ok then perftest.exit(2, NAME .. ": " .. tostring(err):gsub("^.-:%d+: ", "")) end
  return t
end
local flow = perftest.flow {
  name = "flow",
  thresholds = thresholds(args.threshold, { errors = { ("rate < %s"):format(args.errors) } }),
  steps = {
    login = { thresholds = thresholds(args["login-threshold"]) },
    page = { thresholds = thresholds(args["page-threshold"]) },
  },
}

local common = cli.probe_opts(args)
local function opts(extra)
  local o = {}
  for k, v in pairs(common) do o[k] = v end
  for k, v in pairs(extra) do o[k] = v end
  return o
end

-- The token at a dotted path of the decoded answer, or nil.
local function token_of(answer)
  local v = answer
  for part in args.token:gmatch("[^%.]+") do
    if type(v) ~= "table" then return nil end
    v = v[tonumber(part) or part]
  end
  if type(v) == "number" then v = tostring(v) end
  return type(v) == "string" and v ~= "" and v or nil
end

local login_checks = {
  ["login answered 2xx"] = function(r) return r.status >= 200 and r.status < 300 end,
  [("the answer has %s"):format(args.token)] = function(r) return token_of(r:json()) ~= nil end,
}

local function one_run()
  local s = perftest.session { cookies = true }
  local run = flow:start()
  local login, ok = run:step("login", s:probe(login_url, opts {
    json = { user = user, password = password }, keep_body = 64 * 1024,
  }), login_checks)
  if ok then
    local headers = {}
    for k, v in pairs(common.headers or {}) do headers[k] = v end
    local token = token_of(login:json())
    headers[auth_name] = (auth_value:gsub("{token}", function() return token end))
    local page = run:step("page", s:probe(page_url, opts {
      headers = headers, keep_body = reads_body and true or nil,
    }), page_checks)
    if page.error and page.error_kind ~= "interrupted" then perftest.eprint("page: " .. page.error) end
  elseif login.error_kind ~= "interrupted" then
    perftest.eprint("login: " .. (login.error or "failed"))
  end
  run:finish()
  s:close()
end

local tick = perftest.every(args.delay)
for i = 1, args.count do
  one_run()
  if i == args.count or perftest.stopping() or not tick:next() then break end
end

if args.jsonl then
  local t = flow:table()
  print(perftest.json.encode(t))
  flow:summary { color = false } -- records the verdicts for the exit code
else
  io.write(flow:summary(), "\n")
end
