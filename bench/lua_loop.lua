-- The Lua tax, worst case (bench/suite question 6, bench/lua-loop): C tasks each loop on a
-- probe in Lua until the time is up, so every request crosses into Lua and back; with
-- `stats`, each sample also goes through stats:add. Prints one JSON line.
--   perftest run bench/lua_loop.lua URL C SECONDS reuse|new [stats|count]
local perftest = require "perftest"
local url, c, secs, mode, record = table.unpack(perftest.args)
c, secs = tonumber(c), tonumber(secs)
record = record ~= "count"
local stats = perftest.stats()
local count, failed = 0, 0
local started = perftest.clock()
local deadline = started + secs
local tasks = {}
for i = 1, c do
  tasks[i] = perftest.spawn(function()
    local session = mode == "reuse" and perftest.session() or nil
    while perftest.clock() < deadline and not perftest.stopping() do
      local r = session and session:probe(url) or perftest.probe(url)
      if record then
        stats:add(r)
      else
        count = count + 1
        if not r.ok then failed = failed + 1 end
      end
    end
  end)
end
for _, t in ipairs(tasks) do t:join() end
if record then
  local t = stats:table()
  count, failed = t.count, t.failed
end
print(perftest.json.encode { count = count, failed = failed, elapsed = perftest.clock() - started })
