-- The targets every city probes (perftest run monitor --targets): a URL, or a table with its
-- own interval (every, seconds), probe options (opts) and rolling thresholds over --window.
return {
  "https://www.google.com/",
  { url = "https://www.example.com/", thresholds = { total = { "p(95) < 1500" }, errors = { "rate < 0.1" } } },
}
