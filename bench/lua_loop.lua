-- The Lua tax, worst case (bench/suite, question 6): C tasks each loop probe-then-record in Lua
-- until the time is up, so every request crosses into Lua twice. Prints one JSON line.
--   perftest run bench/lua_loop.lua URL C SECONDS reuse|new
local perftest = require "perftest"
local url, c, secs, mode = table.unpack(perftest.args)
c, secs = tonumber(c), tonumber(secs)
local stats = perftest.stats()
local started = perftest.clock()
local deadline = started + secs
local tasks = {}
for i = 1, c do
  tasks[i] = perftest.spawn(function()
    local session = mode == "reuse" and perftest.session() or nil
    while perftest.clock() < deadline and not perftest.stopping() do
      local r = session and session:probe(url) or perftest.probe(url)
      stats:add(r)
    end
  end)
end
for _, t in ipairs(tasks) do t:join() end
local t = stats:table()
print(perftest.json.encode { count = t.count, failed = t.failed, elapsed = perftest.clock() - started })
