-- bench/prometheus's scenario: probes each URL COUNT times every EVERY seconds, pushes the
-- /metrics series to RW_URL every second, and prints `P url phase p10 p95` (ms) per phase from
-- perftest's own statistics.   perftest run bench/quantiles.lua COUNT EVERY RW_URL CACERT URL...
local perftest = require "perftest"
local a = perftest.args
local count, every = tonumber(a[1]), tonumber(a[2])
perftest.remote_write { url = a[3], interval = 1 }
local opts = { cacert = a[4] }
local urls = {}
for i = 5, #a do urls[#urls + 1] = a[i] end
local tasks = {}
for i, url in ipairs(urls) do
  tasks[i] = perftest.spawn(function()
    local s = perftest.stats(url)
    local tick = perftest.every(every)
    perftest.sleep((i - 1) * every / #urls)
    for n = 1, count do
      local r = perftest.probe(url, opts)
      if r.error then perftest.eprint(r.error) end
      s:add(r)
      if n < count and not tick:next() then break end
    end
    return s
  end)
end
for i, s in ipairs(perftest.join_all(tasks)) do
  for _, phase in ipairs { "dns", "tcp", "tls", "first", "lastb", "total" } do
    print(("P %s %s %.4f %.4f"):format(perftest.parse_url(urls[i]).url, phase, s:percentile(phase, 10), s:percentile(phase, 95)))
  end
end
