---@meta perftest
-- Type definitions of the perftest Lua API for lua-language-server (LuaLS) and editors that
-- use it. Put this file in your workspace (or list it in "workspace.library"); get it with
-- `perftest scripts --definitions > perftest.d.lua`. `perftest` is a global and what
-- `require "perftest"` returns. The bundled modules are classes of the same names; give a
-- require its type on the line above it:
--
--   ---@type perftest.cli
--   local cli = require "perftest.cli"

---@class perftest.ProbeOptions
---@field method? string Request method (default "GET").
---@field headers? table<string, string|string[]> Extra request headers; a list sends the header once per value.
---@field body? string Request body, sent as is.
---@field json? table Request body encoded as JSON (Content-Type application/json, POST unless method says).
---@field form? table<string, string|number|boolean|string[]> Request body URL-encoded (application/x-www-form-urlencoded, POST unless method says).
---@field timeout? number Seconds for the whole sample (default 30).
---@field connect_timeout? number Seconds for each TCP connect (default 10).
---@field insecure? boolean Do not verify TLS certificates.
---@field cacert? string Trust the CA certificates in this PEM file instead of the system's.
---@field http2? boolean Offer HTTP/2 by ALPN.
---@field follow_redirects? boolean|integer Follow redirects (true: up to 10).
---@field resolve? string Connect to this IP instead of resolving the name.
---@field ip? "v4"|"v6"|"any" Address family.
---@field max_body? integer Stop reading the body after this many bytes.
---@field tcp_info? boolean Read the socket's TCP_INFO as the sample ends (default true; perftest.load: false).
---@field keep_body? boolean|integer Keep the body's first N bytes as `r.body` (true: 1 MiB); all of it is still read and timed.
---@field dns_server? string Ask this name server ("IP" or "IP:PORT").

---@class perftest.Cert
---@field subject string
---@field issuer string
---@field not_after integer Expiry, epoch seconds.
---@field days_left integer Whole days until not_after.
---@field sans string[] Subject alternative names: DNS names and IP addresses.
---@field chain_not_after integer The earliest expiry among the certificates the server sent, epoch seconds.
---@field chain_days_left integer Whole days until chain_not_after (watch this: an intermediate can lapse first).

---@class perftest.TcpInfo The kernel's view of the connection as the sample ended (TCP_INFO).
---@field rtt number Smoothed round trip, ms.
---@field rttvar number Its mean deviation, ms.
---@field min_rtt? number Lowest round trip seen, ms (Linux 4.6+).
---@field retransmits integer Retransmission timeouts not yet recovered from.
---@field total_retrans integer Segments retransmitted since the connection opened.
---@field lost integer Segments presumed lost now.
---@field cwnd integer Congestion window, segments.
---@field pmtu integer Path MTU, bytes.
---@field delivery_rate? integer Bytes per second (Linux 4.9+).

---@class perftest.Attempt
---@field addr string An address that was tried and failed.
---@field error string
---@field ms number

---@class perftest.Hop
---@field url string
---@field status integer
---@field total number
---@field remote? string

---@class perftest.Result
---@field url string The URL probed.
---@field final_url? string Where redirects led.
---@field start number Epoch seconds when the sample started.
---@field dns number Milliseconds, microsecond resolution.
---@field tcp number
---@field tls number
---@field first number
---@field lastb number
---@field total number TCP + TLS + First + LastB.
---@field status integer 0 when no response arrived.
---@field version? string "HTTP/1.1", "HTTP/2".
---@field size integer Body bytes received.
---@field truncated? boolean The body was cut at max_body.
---@field body? string With keep_body: the body's first bytes (e.g. `r.body:find("ok")`).
---@field tcp_info? perftest.TcpInfo e.g. `r.tcp_info.total_retrans > 0`.
---@field body_truncated? boolean r.body is not the whole body (keep_body's limit, max_body, or a read that failed part-way).
---@field reused? boolean Sent over a kept connection (session, load --reuse).
---@field remote? string The IP that answered.
---@field port? integer
---@field location string From_Location.
---@field ok boolean A complete response arrived, whatever its status.
---@field error? string One line: "connect 127.0.0.1:9: connection refused".
---@field error_kind? "dns"|"connect"|"tls"|"timeout"|"http"|"io"|"interrupted"|"check"
---@field headers? table<string, string> Response headers, lower-case names.
---@field tls_version? string
---@field cipher? string
---@field alpn? string
---@field cert? perftest.Cert
---@field attempts? perftest.Attempt[]
---@field redirects? integer
---@field redirect_time? number
---@field hops? perftest.Hop[]
local Result = {}
---The body kept with keep_body, decoded as JSON (null is nil). Raises when no body was kept
---or, naming the byte offset, when it is not JSON.
---@return any
function Result:json() end

---@class perftest.Task
local Task = {}
---Waits for the task; returns what its function returned, or raises its error.
---@return any ...
function Task:join() end
---True once the task has ended.
---@return boolean
function Task:done() end

---@class perftest.Ticker
local Ticker = {}
---Waits for the next tick of the schedule; false when the run is stopping. The second value is
---how late (seconds) the tick began after its due time.
---@return boolean running
---@return number late
function Ticker:next() end

---@class perftest.Session
local Session = {}
---Like perftest.probe, over the session's kept connection when it can be reused.
---@param url string
---@param opts? perftest.ProbeOptions
---@return perftest.Result
function Session:probe(url, opts) end
---Closes the kept connection (the cookies stay).
function Session:close() end
---The cookies kept (cookies = true), by domain, path and name.
---@return {name: string, value: string, domain: string, path: string}[]
function Session:cookies() end
---Forgets the kept cookies.
function Session:clear_cookies() end

---@class perftest.FlowStepSpec
---@field thresholds? perftest.ThresholdSpec

---@class perftest.FlowSpec
---@field name? string Default "flow".
---@field thresholds? perftest.ThresholdSpec The whole flow's.
---@field steps? table<string, perftest.FlowStepSpec> A step's own thresholds.
---@field step_thresholds? perftest.ThresholdSpec Every other step's.
---@field window? number Rolling window, seconds, for every stats object of the flow.

---@class perftest.Flow
local Flow = {}
---Begins one run of the flow's steps.
---@return perftest.FlowRun
function Flow:start() end
---A step's statistics, or with no step the whole flow's.
---@param step? string
---@return perftest.Stats
function Flow:stats(step) end
---Each step's summary in the order they first ran, then the whole flow's.
---@param opts? {color?: boolean}
---@return string
function Flow:summary(opts) end
---{name, order, steps = {[step] = stats:table()}, total = stats:table()}, verdicts included.
---@return table
function Flow:table() end

---@class perftest.FlowRun
local FlowRun = {}
---Records `r` as step `step` (after running `checks` on it); returns r and whether the step
---succeeded.
---@param step string
---@param r perftest.Result
---@param checks? perftest.Checks
---@return perftest.Result, boolean
function FlowRun:step(step, r, checks) end
---Ends the run: its sample (each phase summed over the steps) goes into the whole flow's stats.
---@return perftest.Result
function FlowRun:finish() end

---@alias perftest.Phase "dns"|"tcp"|"tls"|"first"|"lastb"|"total"|"size"

---@class perftest.Verdict
---@field metric string
---@field expr string
---@field label? string
---@field value number|nil
---@field pass boolean

---Named checks: each a function of the result, passing when it returns a true value (one
---that raises fails, its error shown once).
---@alias perftest.Checks table<string, fun(r: perftest.Result): any>

---@class perftest.Stats
local Stats = {}
---Adds a probe result (samples the run interrupted are ignored).
---@param r perftest.Result
function Stats:add(r) end
---@return integer
function Stats:count() end
---@return integer
function Stats:ok() end
---@return integer
function Stats:failed() end
---Failures by kind.
---@return table<string, integer>
function Stats:errors() end
---Responses by status code.
---@return table<integer, integer>
function Stats:statuses() end
---The fraction of samples that failed.
---@return number
function Stats:error_rate() end
---Samples per second.
---@return number
function Stats:rate() end
---@param phase perftest.Phase
---@param pct number 0 to 100
---@return number|nil
function Stats:percentile(phase, pct) end
---Same as percentile.
---@param phase perftest.Phase
---@param pct number
---@return number|nil
function Stats:p(phase, pct) end
---@param phase perftest.Phase
---@return number|nil
function Stats:mean(phase) end
---@param phase perftest.Phase
---@return number|nil
function Stats:min(phase) end
---@param phase perftest.Phase
---@return number|nil
function Stats:max(phase) end
---@param phase perftest.Phase
---@return number|nil
function Stats:median(phase) end
---@param phase perftest.Phase
---@return number|nil
function Stats:stddev(phase) end
---@return string
function Stats:name() end
---The same statistics over the rolling window (create with window = SECONDS).
---@return perftest.Stats
function Stats:window() end
---Adds every sample of another stats object.
---@param other perftest.Stats
function Stats:merge(other) end
---Each threshold's verdict; or, given a result and checks, runs the checks k6-style and
---records each in this stats object: true when all pass, and a failed one marks `r` failed
---(`r.ok` false, `r.error` "check failed: NAME"). Check before `stats:add(r)`.
---@param r? perftest.Result
---@param checks? perftest.Checks
---@return perftest.Verdict[]|boolean
function Stats:check(r, checks) end
---The k6-style summary; a failed threshold makes the exit code 99.
---@param opts? {color?: boolean}
---@return string
function Stats:summary(opts) end
---Everything as a plain table (for JSON).
---@return table
function Stats:table() end

---@class perftest.Thresholds
local Thresholds = {}
---Each threshold over `stats` (or its window view).
---@param stats perftest.Stats
---@return perftest.Verdict[]
function Thresholds:check(stats) end

---@alias perftest.ThresholdSpec table<string, string|(string|{threshold: string, abort_on_fail?: boolean})[]>

---@class perftest.LoadSpec
---@field url string
---@field opts? perftest.ProbeOptions
---@field concurrency? integer Workers (closed model).
---@field rate? number Requests started per second (open model).
---@field max_in_flight? integer Open model: the most requests out at once (default 10000).
---@field duration? number Seconds.
---@field requests? integer Requests in all.
---@field reuse? boolean Keep connections (keep-alive).
---@field progress? boolean A progress bar on a terminal (default true).
---@field name? string
---@field window? number
---@field thresholds? perftest.ThresholdSpec

---@class perftest.LoadInfo
---@field dropped integer
---@field elapsed number
---@field aborted_by? string

---@class perftest.CloudWatchSpec
---@field namespace string Required (the classic -c's: perftest.classic.CLOUDWATCH_NAMESPACE, "Http Perf Demo").
---@field metrics? "phases"|table<string, string> Phase to metric name; default { total = "RespTime" }; "phases" publishes DNS, TCP, TLS, First, LastB, Total and Errors.
---@field dimensions? table<string, string>|fun(r: perftest.Result): table<string, string> Default: none (the classic -c's: perftest.classic.cloudwatch_dimensions).
---@field resolution? 1|60 Storage resolution, seconds.
---@field interval? number Seconds between sends (default 10).
---@field max_pending? integer Samples kept while CloudWatch is unreachable (default 100000).

---@class perftest.CloudWatch
local CloudWatch = {}
---Publishes a result's metrics.
---@param r perftest.Result
function CloudWatch:add(r) end
---Publishes any value.
---@param metric string
---@param value number
---@param opts? {unit?: "Milliseconds"|"Count"|"Bytes", dimensions?: table<string, string>, at?: number}
function CloudWatch:put(metric, value, opts) end
---@return {recorded: integer, sent: integer, dropped: integer, calls: integer, failed_calls: integer}
function CloudWatch:counters() end

---@class perftest.Webhook
local Webhook = {}
---Queues a JSON document (a string as is, a table encoded).
---@param v string|table
function Webhook:send(v) end
---@return {queued: integer, sent: integer, dropped: integer}
function Webhook:counters() end

---@class perftest.ChannelSpec
---@field type "twilio"|"webhook"|"slack"|"command"
---@field to? string[] Twilio receivers (default TWILIO_SMS_RECEIVERS).
---@field from? string Twilio sender (default TWILIO_FROM).
---@field api? string Twilio API base (default TWILIO_API_URL or https://api.twilio.com).
---@field url? string Webhook or Slack URL.
---@field template? string Webhook body with {{message}}, {{rule}}, {{state}}, {{url}}, {{status}}, {{total}}, {{error}}...
---@field command? string|string[] A shell command, or a program and its arguments.

---@class perftest.Channel
local Channel = {}
---Queues a message.
---@param text string
---@param fields? table<string, string|number>
function Channel:send(text, fields) end

---@class perftest.AlertSpec
---@field name? string
---@field when string|fun(r: perftest.Result): boolean A condition over the result, e.g. "total > 300 or error".
---@field failure_threshold? integer Failures in a row to trigger (default 3).
---@field success_threshold? integer Successes in a row to resolve (default 2).
---@field send_on_resolved? boolean Default true.
---@field remind_every? number Seconds between reminders while firing.
---@field min_interval? number At most one message per this many seconds.
---@field channels? (perftest.Channel|perftest.ChannelSpec)[]
---@field message? fun(r: perftest.Result, state: string): string
---@field quiet? boolean Do not print alerts on stderr.

---@class perftest.Alert
local Alert = {}
---Feeds a sample; returns "TRIGGERED", "REMINDER", "RESOLVED" or nil.
---@param r perftest.Result
---@return string|nil
function Alert:observe(r) end
---@return boolean
function Alert:firing() end

---@class perftest.json
---@field encode fun(v: any): string
---@field decode fun(s: string): any

---@class perftest
---@field args table Script arguments, or the classic flags for default.lua.
---@field location string REP_LOCATION, or REP_CITY,REP_COUNTRY, or this host's address.
---@field version string
---@field fields string[] Every field a result table can have (perftest.Result), in one list.
---@field json perftest.json
perftest = {}

---Probes `url` once on a new connection; never raises for a failed sample (see r.error).
---@param url string
---@param opts? perftest.ProbeOptions
---@return perftest.Result
function perftest.probe(url, opts) end

---Waits `seconds`; false if the run started stopping meanwhile.
---@param seconds number
---@return boolean
function perftest.sleep(seconds) end

---A fixed schedule: t:next() waits for the next tick.
---@param seconds number
---@return perftest.Ticker
function perftest.every(seconds) end

---Runs fn(...) as a concurrent task.
---@param fn function
---@param ... any
---@return perftest.Task
function perftest.spawn(fn, ...) end

---Joins each task; returns their first results in order.
---@param tasks perftest.Task[]
---@return any[]
function perftest.join_all(tasks) end

---Epoch seconds.
---@return number
function perftest.now() end

---Monotonic seconds since the run started.
---@return number
function perftest.clock() end

---An environment variable.
---@param name string
---@return string|nil
function perftest.env(name) end

---True once SIGINT or SIGTERM (or perftest.stop) asked the run to stop.
---@return boolean
function perftest.stopping() end

---Asks the run to stop, as SIGINT does.
function perftest.stop() end

---Ends the run with `code`, printing `message` on stderr.
---@param code? integer
---@param message? string
function perftest.exit(code, message) end

---Like print, to stderr.
---@param ... any
function perftest.eprint(...) end

---A URL's parts, or nil and why it is not valid.
---@param url string
---@return {url: string, scheme: string, host: string, port: integer, path: string}|nil, string|nil
function perftest.parse_url(url) end

---The classic flags parsed from a list of strings.
---@param list string[]
---@return table
function perftest.parse_classic(list) end

---True when stdout is a terminal.
---@return boolean
function perftest.isatty() end

---`text` in a colour when stdout takes colour.
---@param text string
---@param color "red"|"green"|"yellow"|"blue"|"magenta"|"cyan"|"white"|"gray"|"bold"|"dim"
---@return string
function perftest.color(text, color) end

---Whether stdout takes colour (--color, NO_COLOR, CLICOLOR_FORCE, a terminal); sets the choice first if given.
---@param when? "auto"|"always"|"never"
---@return boolean
function perftest.colors(when) end

---Samples over kept connections (keep-alive).
---@param opts? {cookies?: boolean} cookies = true keeps cookies between samples (RFC 6265).
---@return perftest.Session
function perftest.session(opts) end

---A multi-step flow: stats per named step and for the whole flow, each with thresholds.
---@param spec? string|perftest.FlowSpec
---@return perftest.Flow
function perftest.flow(spec) end

---Statistics: perftest.stats("name") or perftest.stats{ name =, window =, thresholds = }.
---@param opts? string|{name?: string, window?: number, thresholds?: perftest.ThresholdSpec}
---@return perftest.Stats
function perftest.stats(opts) end

---Runs named checks on a result without recording them: true when all pass; a failed one
---marks `r` failed (`r.ok` false, `r.error` "check failed: NAME").
---@param r perftest.Result
---@param checks perftest.Checks
---@return boolean
function perftest.check(r, checks) end

---Thresholds checked on demand (they do not decide the exit code).
---@param spec perftest.ThresholdSpec
---@return perftest.Thresholds
function perftest.thresholds(spec) end

---A bounded load run by the Rust engine.
---@param spec perftest.LoadSpec
---@return perftest.Stats, perftest.LoadInfo
function perftest.load(spec) end

---Publishes samples to CloudWatch (loads the AWS configuration; raises if there is no region or credentials).
---@param spec? perftest.CloudWatchSpec
---@return perftest.CloudWatch
function perftest.cloudwatch(spec) end

---POSTs JSON documents to `url` from a bounded queue; `opts.cacert` / `opts.insecure` verify
---the receiver as a probe with them would.
---@param url string
---@param opts? { cacert?: string, insecure?: boolean }
---@return perftest.Webhook
function perftest.webhook(url, opts) end

---Where alerts go. Twilio's credentials come from TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.
---@param spec perftest.ChannelSpec
---@return perftest.Channel
function perftest.channel(spec) end

---An alert rule.
---@param spec perftest.AlertSpec
---@return perftest.Alert
function perftest.alert(spec) end

---Bucket layouts of the phase histograms: "adaptive" (the default), a list of seconds, or
---{from =, to =, count =} (log-spaced); one for every phase, or a table of them by phase.
---@alias perftest.Buckets string|number[]|{from: number, to: number, count: integer}|table<string, string|number[]|{from: number, to: number, count: integer}>

---Starts the web server (/memstats, /metrics, /healthz); returns the address it listens on.
---@param spec integer|{port?: integer, listen?: string, buckets?: perftest.Buckets}
---@return string
function perftest.serve(spec) end

---@class perftest.RemoteWriteSpec
---@field url string The receiver, e.g. "http://prometheus:9090/api/v1/write".
---@field interval? number Seconds between reads of the series (15).
---@field labels? table<string, string> Added to every series (a series' own label wins); job = "perftest" and instance = the location unless given.
---@field headers? table<string, string> Sent with every request (Authorization, X-Scope-OrgID).
---@field max_pending? integer Samples kept while the receiver is unreachable (200000).
---@field timeout? number Seconds a request may take (10).
---@field buckets? perftest.Buckets

---@class perftest.RemoteWrite
local RemoteWrite = {}
---@return {recorded: integer, sent: integer, dropped: integer, pending: integer, calls: integer, failed_calls: integer}
function RemoteWrite:counters() end

---Pushes the series /metrics serves to a Prometheus remote-write URL (1.0: protobuf, snappy).
---@param spec string|perftest.RemoteWriteSpec
---@return perftest.RemoteWrite
function perftest.remote_write(spec) end


-- The bundled modules (`require "perftest.NAME"`), each declared as the class of that name.

---A perftest.cli option: { short, long, metavar, help, type = "flag"|"int"|"number"|"string"|"list", default = }.
---@alias perftest.cli.Option table

---@class perftest.cli.Spec
---@field usage string "perftest run NAME [options] URL..."
---@field about? string One line under the usage in --help.
---@field options perftest.cli.Option[]
---@field positional? {name: string, min?: integer, max?: integer} A name starting URL has each checked.

---@class perftest.cli Command-line options for scenarios: -n 5, --count=5, flags, lists, --help from the spec, errors that exit 2.
---@field PROBE_OPTIONS perftest.cli.Option[] -k, --cacert, --http2, --timeout, -H, -X, -4, -6, --dns-server.
---@field CHECK_OPTION perftest.cli.Option --check EXPR, repeatable.
local cli = {}
---Adds PROBE_OPTIONS to the spec's options; returns the spec.
---@param spec perftest.cli.Spec
---@return perftest.cli.Spec
function cli.with_probe_options(spec) end
---Parses `list` (perftest.args) by `spec`: options by long name, and `positional`; --help prints and exits 0, a bad option exits 2. Every spec takes --color WHEN too.
---@param list string[]
---@param spec perftest.cli.Spec
---@return table
function cli.parse(list, spec) end
---The perftest.probe options from parsed PROBE_OPTIONS.
---@param args table
---@return perftest.ProbeOptions
function cli.probe_opts(args) end
---stats:check's table from --check expressions (nil when none), and whether one reads the body.
---@param list string[]
---@param name? string
---@return table?, boolean
function cli.checks(list, name) end
---Thresholds from "METRIC EXPR" strings, as a perftest.stats thresholds table.
---@param list string[]
---@param into? perftest.ThresholdSpec
---@return perftest.ThresholdSpec
function cli.thresholds(list, into) end

---A running classic summary (perftest.classic.summary).
---@alias perftest.classic.Summary table

---@class perftest.classic The classic command line's rows, JSON and summaries, byte for byte as the Go tool's.
---@field HEADER string The TSV header line.
---@field CLOUDWATCH_NAMESPACE string "Http Perf Demo".
local classic = {}
---41s, 3m07s, 1h02m09s.
---@param secs number
---@return string
function classic.hhmmss(secs) end
---The HTTP column: the status, or 500 when the sample failed.
---@param r perftest.Result
---@return integer
function classic.status(r) end
---The classic -c's dimensions: TestUrl, HTTP Resp Code, FromLocation.
---@param r perftest.Result
---@return table<string, string>
function classic.cloudwatch_dimensions(r) end
---perftest.cloudwatch's options for the classic -c, sent every `interval` seconds (10).
---@param interval? number
---@return perftest.CloudWatchSpec
function classic.cloudwatch_options(interval) end
---The Remote_Addr column ("undefined" when the sample never connected).
---@param r perftest.Result
---@return string
function classic.remote(r) end
---One TSV row, numbered `n`, without the newline.
---@param n integer
---@param r perftest.Result
---@return string
function classic.row(n, r) end
---Epoch seconds as Go's RFC3339Nano in the local zone.
---@param t number
---@return string
function classic.rfc3339nano(t) end
---The location as the environment gives it (Go's PingTimes.Location), "" when unset.
---@return string
function classic.env_location() end
---The Go tool's PingTimes JSON: indented as -j prints it (indent given), compact as -W posts it.
---@param r perftest.Result
---@param indent? string
---@return string
function classic.go_json(r, indent) end
---One --jsonl line for a sample (docs/schema/sample.json).
---@param n integer
---@param r perftest.Result
---@return string
function classic.json_row(n, r) end
---r.tcp_info as a JSON object, times in ms.
---@param t perftest.TcpInfo
---@return string
function classic.tcp_info_json(t) end
---A running summary for one URL.
---@param url string
---@return perftest.classic.Summary
function classic.summary(url) end
---Adds a sample; only successful ones count in the averages.
---@param s perftest.classic.Summary
---@param r perftest.Result
function classic.add(s, r) end
---The summary text, as the classic tool prints it.
---@param s perftest.classic.Summary
---@return string
function classic.summary_text(s) end
---The summary as one --jsonl line (docs/schema/summary.json, averages only).
---@param s perftest.classic.Summary
---@return string
function classic.summary_json(s) end
---A stats object's summary as one --jsonl line (docs/schema/summary.json): its table, type, url, the verdicts and `extra`.
---@param stats perftest.Stats
---@param url string
---@param extra? table
---@return string
function classic.stats_json(stats, url, extra) end

---@class perftest.conditions Result conditions as Lua expressions (alert rules, --check).
---@field FIELDS table<string, true> The result's fields, which hide globals of the same name in a condition.
local conditions = {}
---A function of a result evaluating `expr`, or nil and why it does not compile.
---@param expr string
---@return (fun(r: perftest.Result): any)?, string?
function conditions.compile(expr) end
---True if `expr` reads the body (body, json()).
---@param expr string
---@return boolean
function conditions.reads_body(expr) end
---stats:check's table from expressions, each named by its text; or nil, the bad one and why.
---@param list string[]
---@return table?, string?, string?
function conditions.checks(list) end
---True if any expression of the list reads the body.
---@param list string[]
---@return boolean
function conditions.any_reads_body(list) end

---@class perftest.publishing.Publisher
---@field address? string The address served.
local Publisher = {}
---Publishes a sample; `json` makes its webhook body when one is posted.
---@param r perftest.Result
---@param json? fun(): string
function Publisher:add(r, json) end

---@class perftest.publishing The classic publishing flags (-p/--listen, -c, -W, -A/-M) for any scenario.
---@field OPTIONS perftest.cli.Option[]
local publishing = {}
---Adds OPTIONS to the spec's options; returns the spec.
---@param spec perftest.cli.Spec
---@return perftest.cli.Spec
function publishing.with_options(spec) end
---The settings start() takes, from parsed OPTIONS.
---@param args table
---@return table
function publishing.from_args(args) end
---Starts what `conf` asks for; `how.name` prefixes errors, `how.note(text)` tells what started, `how.quiet_alerts` keeps alert lines off stderr.
---@param conf table
---@param how? {name?: string, note?: fun(text: string), quiet_alerts?: boolean}
---@return perftest.publishing.Publisher
function publishing.start(conf, how) end

---@class perftest.repl How the REPL shows values and completes names.
local repl = {}
---A probe result as a small waterfall.
---@param r perftest.Result
---@return string
function repl.result(r) end
---Any value as text, tables nested up to `depth` levels (3).
---@param v any
---@param depth? integer
---@param seen? table
---@return string
function repl.inspect(v, depth, seen) end
---The text the REPL prints for a value.
---@param v any
---@return string
function repl.show(v) end
---Tab: the byte offset where the word starts, and the candidates.
---@param line string
---@param pos integer
---@param native table
---@return integer, string[]
function repl.complete(line, pos, native) end

---@class perftest.alert What perftest.alert builds on.
local alert = {}
---A new rule (perftest.alert(spec) is this).
---@param spec perftest.AlertSpec
---@return perftest.Alert
function alert.rule(spec) end

---@class perftest.flow What perftest.flow builds on.
local flow = {}
---A new flow (perftest.flow(spec) is this).
---@param spec perftest.FlowSpec
---@return perftest.Flow
function flow.new(spec) end

return perftest
