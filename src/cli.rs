//! The command line: the classic flags (each defined once, here) and the subcommands.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use serde::Serialize;

const USAGE: &str = "perftest [flags] URL...
       perftest run SCRIPT|NAME [args...]
       perftest COMMAND (repl, scripts, help, completions, ...)";

/// What `-h` ends with: the commands people start from (`--help` has the rest).
const SHORT_EXAMPLES: &str = "\
More: perftest --help (every flag, the environment, exit codes), man perftest.

Examples:
  perftest -n 5 -d 2 https://www.google.com
  perftest run slo -n 20 --p95 300 https://example.com/
  perftest run monitor -d 10 -t 'total p(95) < 300' https://example.com/
  perftest repl";

const EXAMPLES: &str = "\
Each sample uses a new connection and prints one tab-separated row: the sample number and its
start (epoch seconds), then DNS, TCP, TLS, First, LastB and Total in milliseconds (Total = TCP
+ TLS + First + LastB), the HTTP status, the body size, From_Location, Remote_Addr and the URL.
A sample that got no response shows HTTP 500 and its reason on stderr. Each URL's loop ends
with a summary of averages.

Environment: PERFTEST_URL (more URLs, space-separated), PERFTEST_LIMIT (overrides -n),
PERFTEST_DELAY (overrides -d), REP_LOCATION or REP_CITY + REP_COUNTRY (the From_Location),
HTTP_JSON_WEBHOOK (-W), RESPONSE_THRESHOLD (-A), PERFTEST_LISTEN_PORT (-p); for -c the AWS
SDK's (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, profiles, roles); for -A
TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_SMS_RECEIVERS (space-separated), TWILIO_FROM.

Examples:
  perftest -n 5 -d 2 https://www.google.com
  perftest -n=5 -d=2 https://example.com/ https://example.org/    (in parallel)
  PERFTEST_URL=https://example.com REP_LOCATION='Paris,FR' perftest -n 3 -j
  perftest -n 3 --cacert ca.pem https://internal.test/health
  REP_LOCATION='Paris,FR' perftest -c -d 10 -p 9100 https://example.com/     (CloudWatch, /metrics)
  perftest run my-scenario.lua https://example.com

Scenarios: perftest scripts (slo, compare, waterfall, load, monitor), perftest repl.

In the container image the entrypoint is `perftest container`: with no arguments or classic
flags only it runs `perftest -c -v [flags]` (the Go image's ENTRYPOINT), over PERFTEST_URL; a
subcommand (run, repl, scripts, healthcheck) runs as given.

Flags take Go's forms too: -n=5, --n 5, --n=5, -j=true, -q=false, -insecure.

Exit status: 0 when the run ended normally, 1 on a script error or when no URL was given,
2 on a usage error, 69 when no sample of a scenario got a response (never for the classic
command line, as in Go), 70 on an internal error, 74 when stdout could not be written, 99 when
a threshold failed, 130 after a second Ctrl-C (250 ms or more after the first); a script's
perftest.exit(N).";

/// The whole command line.
#[derive(Parser, Debug)]
#[command(
    name = "perftest",
    version,
    about = "Measure HTTP(S) endpoints phase by phase: DNS, TCP, TLS, first byte, last byte.",
    override_usage = USAGE,
    after_help = SHORT_EXAMPLES,
    after_long_help = EXAMPLES,
    disable_version_flag = true,
    // As Go's flag package: a flag given twice takes its last value.
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub classic: Classic,

    /// Print the version
    #[arg(long, action = clap::ArgAction::Version, hide_short_help = true)]
    version: Option<bool>,
}

impl Cli {
    /// Parses `args` (the program's name first). Everything after `run SCRIPT` is the
    /// script's, a leading `-q`, `-v` or `-V` too: those flags are global, and clap alone would
    /// take `run monitor -q URL`'s `-q` as perftest's own, never handing it to the scenario.
    pub fn from_list(args: Vec<std::ffi::OsString>) -> Cli {
        let mut run = 1;
        while let Some(a) = args.get(run).and_then(|a| a.to_str()) {
            match a {
                "-q" | "-v" | "-V" => run += 1,
                "--color" => run += 2,
                _ if a.starts_with("--color=") => run += 1,
                _ => break,
            }
        }
        let script_args: Option<Vec<String>> = (args.get(run).is_some_and(|a| a == "run")
            && args.len() > run + 1)
            .then(|| {
                args[run + 2..]
                    .iter()
                    .map(|a| a.clone().into_string().ok())
                    .collect()
            })
            .flatten();
        let Some(script_args) = script_args else {
            return Cli::parse_from(args);
        };
        let mut cli = Cli::parse_from(&args[..run + 2]);
        if let Some(Command::Run { args, .. }) = &mut cli.command {
            *args = script_args;
        }
        cli
    }
}

/// What to run besides the classic loop.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario: a Lua file, or a bundled one by name
    ///
    /// `perftest scripts` lists the bundled ones; `perftest run NAME --help` shows one's options.
    #[command(disable_help_flag = true)]
    Run {
        /// A path to a .lua file, or the name of a bundled scenario
        #[arg(allow_hyphen_values = true, value_parser = ScenarioName, hide_possible_values = true)]
        script: String,
        /// Arguments for the script, as perftest.args
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Interactive Lua with perftest loaded
    ///
    /// Reads stdin line by line, without prompts, when it is not a terminal.
    Repl,
    /// The load engine without Lua, for measuring what the scripting costs (bench/)
    #[command(hide = true)]
    BenchLoad {
        url: String,
        /// Workers (closed model)
        #[arg(short = 'c', default_value_t = 10)]
        concurrency: usize,
        /// Seconds
        #[arg(short = 'd')]
        duration: Option<f64>,
        /// Requests in all
        #[arg(short = 'n')]
        requests: Option<u64>,
        /// Keep connections
        #[arg(long)]
        reuse: bool,
    },
    /// Exit 0 if /healthz answers 200 (a container's HEALTHCHECK)
    ///
    /// Exits 1 otherwise.
    Healthcheck {
        /// Ask http://127.0.0.1:PORT/healthz [default: PERFTEST_LISTEN_PORT]
        #[arg(long, value_name = "PORT")]
        port: Option<u16>,
        /// Ask this URL instead
        #[arg(long, value_name = "URL", conflicts_with = "port")]
        url: Option<String>,
        /// Seconds allowed for the answer
        #[arg(long, value_name = "S", default_value_t = 5.0)]
        timeout: f64,
    },
    /// Plot percentiles over time from --jsonl rows or Prometheus
    ///
    /// One line per location, as PNG, SVG or CSV.
    Plot(Box<PlotArgs>),
    /// List the bundled scenarios, or describe one
    ///
    /// With a name, that scenario's description and arguments.
    Scripts {
        /// A bundled scenario's name
        #[arg(value_parser = ScenarioName, hide_possible_values = true)]
        name: Option<String>,
        /// Print the Lua API's type definitions (perftest.d.lua, for LuaLS and editors)
        #[arg(long)]
        definitions: bool,
    },
    /// Print the version
    Version,
    /// Print a shell's completion script (bash, zsh, fish, ...)
    #[command(after_help = "Try: source <(perftest completions bash), or make install.")]
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
    /// The man page, made from these same definitions (make install puts it in man1)
    #[command(hide = true)]
    Man {
        /// Write perftest.1 and a page per subcommand (perftest-run.1, ...) here instead
        dir: Option<PathBuf>,
    },
}

/// Every word that names a subcommand (`help` included), so that none is probed as a URL.
pub fn subcommand_names() -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    cmd.get_subcommands()
        .flat_map(|s| std::iter::once(s.get_name()).chain(s.get_all_aliases()))
        .chain([CONTAINER])
        .map(String::from)
        .collect()
}

/// The error for a URL that is a subcommand's name (`perftest http://a/ help`), if one is.
pub fn subcommand_as_url(urls: &[String]) -> Option<String> {
    let names = subcommand_names();
    let word = urls.iter().find(|u| names.contains(u))?;
    Some(format!(
        "perftest: '{word}' is a command, not a URL: put it first (perftest {word} ...), or write http://{word}/ to probe a host of that name"
    ))
}

/// A scenario's name or a script's path: anything parses, and completions offer the names of
/// the bundled scenarios.
#[derive(Clone)]
struct ScenarioName;

impl clap::builder::TypedValueParser for ScenarioName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        value
            .to_str()
            .map(String::from)
            .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidUtf8).with_cmd(cmd))
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(crate::scripts::BUNDLED.iter().map(
            |(name, source)| {
                clap::builder::PossibleValue::new(*name).help(crate::scripts::summary(source))
            },
        )))
    }
}

/// `perftest completions SHELL`: the script, from the same definitions as `--help`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let full = Cli::command();
    // The hidden commands (man, bench-load) serve the Makefile and bench/, not a user's Tab.
    let mut cmd = clap::Command::new("perftest")
        .version(env!("CARGO_PKG_VERSION"))
        .disable_version_flag(true)
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "perftest", &mut out);
    let script = String::from_utf8_lossy(&out).into_owned();
    with_scenario_names(shell, script).into_bytes()
}

/// clap_complete offers a positional's values in bash, zsh and elvish only: fish and PowerShell
/// get the bundled scenarios' names after `run` and `scripts` added here.
fn with_scenario_names(shell: clap_complete::Shell, mut script: String) -> String {
    use clap_complete::Shell;
    let names = crate::scripts::BUNDLED
        .iter()
        .map(|(name, source)| (*name, crate::scripts::summary(source)));
    for sub in ["run", "scripts"] {
        match shell {
            Shell::Fish => {
                for (name, about) in names.clone() {
                    script.push_str(&format!(
                        "complete -c perftest -n \"__fish_perftest_using_subcommand {sub}\" -a \"{name}\" -d '{}'\n",
                        about.replace('\\', "\\\\").replace('\'', "\\'")
                    ));
                }
            }
            Shell::PowerShell => {
                let open = format!("'perftest;{sub}' {{\n");
                let Some(at) = script.find(&open).map(|i| i + open.len()) else {
                    continue;
                };
                let lines: String = names
                    .clone()
                    .map(|(name, about)| {
                        format!(
                            "            [CompletionResult]::new('{name}', '{name}', [CompletionResultType]::ParameterValue, '{}')\n",
                            about.replace('\'', "''")
                        )
                    })
                    .collect();
                script.insert_str(at, &lines);
            }
            _ => {}
        }
    }
    script
}

/// `perftest man [DIR]`: perftest.1 in roff, or into DIR with a page per subcommand.
pub fn man_pages(dir: Option<&std::path::Path>) -> std::io::Result<Vec<u8>> {
    // A page has room for every flag: -h's short list hides some, and clap_mangen would too.
    let cmd = Cli::command()
        .mut_args(|a| a.hide_short_help(false))
        .disable_help_subcommand(true);
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
        clap_mangen::generate_to(cmd, dir)?;
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    Ok(out)
}

const PLOT_EXAMPLES: &str = "\
Rows are what --jsonl prints (perftest --jsonl, perftest run monitor --jsonl): successful
samples only (no error, HTTP status below 400), as the seed's graphs showed code 200. Each
line is a location (From_Location), and a location and URL when the rows hold several URLs.
From Prometheus (--prometheus) the query is a range query; without --query it is perftest's
own histogram: histogram_quantile(P, sum by (le, location) (rate(
perftest_phase_duration_seconds_bucket{phase=\"PHASE\"}[W]))), W the period or 1m if longer.
Values from Prometheus are seconds and are drawn in milliseconds (--scale).

Times (--start, --end, --mark): epoch seconds, 2026-12-02T09:00:00Z (RFC 3339), 09:00 (UTC,
on the day the chart starts), now, or now-1h / -90m (before now).

Examples:
  perftest run monitor --jsonl --targets t.txt >rows.jsonl; perftest plot rows.jsonl -o p95.png
  perftest plot -P 10 --period 5m --mark 09:00=deploy rows.jsonl -o p10.svg
  cat a.jsonl b.jsonl | perftest plot -o fleet.csv
  perftest plot --prometheus http://127.0.0.1:9090 --start now-12h -P 95 -o p95.png";

/// `perftest plot`'s options.
#[derive(Args, Debug, Clone)]
#[command(after_help = PLOT_EXAMPLES)]
pub struct PlotArgs {
    /// --jsonl rows to read; none, or -, reads stdin
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Where to write: a .png, .svg or .csv file (- for CSV on stdout)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,

    /// Percentile to draw, 0-100; repeatable (one line per location and percentile)
    #[arg(short = 'P', long = "percentile", value_name = "P", default_values_t = [95.0], value_parser = percentile_value)]
    pub percentiles: Vec<f64>,

    /// The phase: dns, tcp, tls, first, lastb or total
    #[arg(long, value_name = "NAME", default_value = "total", value_parser = ["dns", "tcp", "tls", "first", "lastb", "total"])]
    pub phase: String,

    /// Seconds (or 30s, 5m, 1h) per point [default: about a hundredth of the span]
    #[arg(long, value_name = "S", value_parser = duration_value)]
    pub period: Option<f64>,

    /// Only the samples of this URL (the query string ignored; Prometheus: its target label)
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// A vertical line at TIME named LABEL (09:00=deploy); repeatable
    #[arg(long = "mark", value_name = "TIME=LABEL")]
    pub marks: Vec<String>,

    /// The chart's title [default: says the percentile, phase and period]
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,

    /// The image's size in pixels
    #[arg(long, value_name = "WxH", default_value = "1200x600", value_parser = size_value)]
    pub size: (u32, u32),

    /// Read from this Prometheus (its HTTP API's base URL) instead of rows
    #[arg(long, value_name = "URL", conflicts_with = "files")]
    pub prometheus: Option<String>,

    /// The PromQL to draw (with --prometheus) [default: perftest's histogram, see below]
    #[arg(long, value_name = "PROMQL", requires = "prometheus")]
    pub query: Option<String>,

    /// Where the chart starts (with --prometheus) [default: now-1h]
    #[arg(long, value_name = "TIME", requires = "prometheus")]
    pub start: Option<String>,

    /// Where it ends (with --prometheus) [default: now]
    #[arg(long, value_name = "TIME", requires = "prometheus")]
    pub end: Option<String>,

    /// The label that names each line (with --prometheus)
    #[arg(
        long,
        value_name = "NAME",
        default_value = "location",
        requires = "prometheus"
    )]
    pub label: String,

    /// Multiply Prometheus's values by this (seconds to milliseconds)
    #[arg(
        long,
        value_name = "F",
        default_value_t = 1000.0,
        requires = "prometheus"
    )]
    pub scale: f64,

    /// The y axis's name [default: the phase and ms]
    #[arg(long, value_name = "TEXT")]
    pub ylabel: Option<String>,
}

/// The classic tool's flags, plus a few of curl's for the probe's options: each defined once,
/// here. Its serialized fields are `perftest.args` for default.lua (named as here) and, the
/// global flags skipped, what [`Classic::classic_only_flag`] looks through: a new flag is a
/// field here and its use in scripts/default.lua.
#[derive(Args, Serialize, Debug, Default, Clone)]
pub struct Classic {
    /// Requests to each URL; 0 = until interrupted [default: 0]
    #[arg(short = 'n', value_name = "N")]
    pub n: Option<u64>,

    /// Seconds between requests to a URL [default: 10]
    ///
    /// Kept by the clock: a slow sample does not push the next one back; 0 runs back to back.
    #[arg(short = 'd', value_name = "S", value_parser = seconds_value)]
    pub d: Option<f64>,

    /// Failures in a row after which a URL's loop stops; 0 never stops [default: 10]
    #[arg(short = 'f', value_name = "N", hide_short_help = true)]
    pub f: Option<u64>,

    /// Each sample as the Go tool's JSON
    ///
    /// Its PingTimes, indented, times in nanoseconds; then the text summary.
    #[arg(short = 'j', conflicts_with = "jsonl")]
    pub json: bool,

    /// One JSON object per line per sample and summary
    ///
    /// Instead of the TSV, times in milliseconds (docs/schema/ describes each row).
    #[arg(long)]
    pub jsonl: bool,

    /// Publish every sample to AWS CloudWatch
    ///
    /// Namespace "Http Perf Demo", metric RespTime, with the AWS SDK's credentials.
    #[arg(short = 'c')]
    pub cloudwatch: bool,

    /// POST every sample to this URL as the Go tool's JSON (or HTTP_JSON_WEBHOOK)
    #[arg(short = 'W', value_name = "URL", hide_short_help = true)]
    pub webhook: Option<String>,

    /// Alert by SMS (Twilio) when a sample's Total exceeds MS milliseconds (or RESPONSE_THRESHOLD)
    #[arg(short = 'A', value_name = "MS", hide_short_help = true)]
    pub alert_ms: Option<u64>,

    /// At most one alert per S seconds [default: 300]
    #[arg(short = 'M', value_name = "S", hide_short_help = true)]
    pub alert_every: Option<u64>,

    /// Serve /metrics, /memstats and /healthz on this port
    ///
    /// Or PERFTEST_LISTEN_PORT; --listen takes an address instead.
    #[arg(short = 'p', value_name = "PORT")]
    pub port: Option<u16>,

    /// Serve them on this address instead, such as 127.0.0.1:9100
    #[arg(long, value_name = "ADDR", hide_short_help = true)]
    pub listen: Option<String>,

    /// Push the /metrics series to this Prometheus remote-write URL (or PERFTEST_REMOTE_WRITE)
    #[arg(long = "remote-write", value_name = "URL", hide_short_help = true)]
    pub remote_write: Option<String>,

    /// Quiet: no notes on stderr
    ///
    /// Rows, summaries and errors still print.
    #[arg(short = 'q', global = true)]
    #[serde(skip)]
    pub quiet: bool,

    /// Verbose: protocol, TLS and certificate on stderr
    ///
    /// For each sample.
    #[arg(short = 'v', global = true)]
    #[serde(skip)]
    pub verbose: bool,

    /// More verbose: also the probe's debug log
    #[arg(short = 'V', global = true, hide_short_help = true)]
    #[serde(skip)]
    pub very_verbose: bool,

    /// Colour: auto, always or never [default: auto]
    ///
    /// auto colours a terminal unless NO_COLOR is set (or CLICOLOR=0); CLICOLOR_FORCE colours
    /// a pipe too. A scenario takes it after its name as well.
    #[arg(
        long,
        value_name = "WHEN",
        value_enum,
        global = true,
        hide_possible_values = true
    )]
    #[serde(skip)]
    pub color: Option<crate::color::When>,

    /// Do not verify TLS certificates (as curl -k)
    #[arg(short = 'k', long = "insecure")]
    pub insecure: bool,

    /// Follow redirects (as curl -L)
    ///
    /// Without it the 3xx itself is timed.
    #[arg(short = 'L', long = "location")]
    pub follow: bool,

    /// Trust the CA certificates in this PEM file instead of the system's
    #[arg(long, value_name = "FILE", hide_short_help = true)]
    #[serde(serialize_with = "lossy_path")]
    pub cacert: Option<PathBuf>,

    /// Offer HTTP/2 by ALPN (https)
    #[arg(long, hide_short_help = true)]
    pub http2: bool,

    /// Seconds allowed for a whole sample [default: 30]
    #[arg(long, value_name = "S", value_parser = seconds_value, hide_short_help = true)]
    pub timeout: Option<f64>,

    /// Seconds allowed for each TCP connect [default: 10]
    #[arg(long = "connect-timeout", value_name = "S", value_parser = seconds_value, hide_short_help = true)]
    pub connect_timeout: Option<f64>,

    /// Connect over IPv4 only
    #[arg(short = '4', conflicts_with = "ipv6", hide_short_help = true)]
    pub ipv4: bool,

    /// Connect over IPv6 only
    #[arg(short = '6', hide_short_help = true)]
    pub ipv6: bool,

    /// Use ADDR for HOST:PORT instead of DNS (as curl --resolve); repeatable
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = resolve_value, hide_short_help = true)]
    pub resolve: Vec<String>,

    /// Send this header ("Name: value"); repeatable
    #[arg(short = 'H', long = "header", value_name = "HEADER", value_parser = header_value, hide_short_help = true)]
    pub headers: Vec<String>,

    /// Request method [default: GET]
    #[arg(short = 'X', long = "request", value_name = "METHOD", value_parser = method_value, hide_short_help = true)]
    pub method: Option<String>,

    /// Ask this name server (IP or IP:PORT) instead of /etc/resolv.conf's
    #[arg(long = "dns-server", value_name = "ADDR", value_parser = dns_server_value, hide_short_help = true)]
    pub dns_server: Option<String>,

    /// URLs to probe, in parallel; without a scheme, http://
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
}

impl Classic {
    /// The first flag given that only the classic command line takes (not -q, -v, -V,
    /// --color), as `-n`, `--jsonl` or `a URL`.
    pub fn classic_only_flag(&self) -> Option<String> {
        let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(self) else {
            return None;
        };
        let given = |v: &serde_json::Value| match v {
            serde_json::Value::Null | serde_json::Value::Bool(false) => false,
            serde_json::Value::Array(a) => !a.is_empty(),
            _ => true,
        };
        // The definitions' order, which is --help's.
        classic_command()
            .get_arguments()
            .find(|a| fields.get(a.get_id().as_str()).is_some_and(given))
            .map(|a| match (a.get_short(), a.get_long()) {
                (Some(c), _) => format!("-{c}"),
                (None, Some(long)) => format!("--{long}"),
                (None, None) => "a URL".to_string(),
            })
    }

    /// No URL on the command line nor in PERFTEST_URL.
    pub fn without_urls(&self) -> bool {
        self.urls.is_empty() && std::env::var("PERFTEST_URL").map_or(true, |u| u.trim().is_empty())
    }

    /// 0 quiet, 1 normal, 2 verbose, 3 more verbose.
    pub fn verbosity(&self) -> u8 {
        if self.very_verbose {
            3
        } else if self.verbose {
            2
        } else if self.quiet {
            0
        } else {
            1
        }
    }
}

/// The word the image's ENTRYPOINT puts first (`perftest container ARGS...`).
pub const CONTAINER: &str = "container";

/// The command line the image runs: `perftest container` followed by a subcommand runs that
/// subcommand as given; followed by nothing or classic flags it becomes `perftest -c -v ...`,
/// as the Go image's `ENTRYPOINT ["perftest", "-c", "-v"]` did. Any other command line is
/// returned unchanged.
pub fn container_argv(argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if argv.get(1).is_none_or(|a| a != CONTAINER) {
        return argv;
    }
    let mut rest = argv.into_iter();
    let program = rest.next().unwrap_or_else(|| "perftest".into());
    rest.next();
    let rest: Vec<std::ffi::OsString> = rest.collect();
    let subcommand = rest
        .first()
        .and_then(|a| a.to_str())
        .is_some_and(|first| first != CONTAINER && subcommand_names().iter().any(|n| n == first));
    let mut out = vec![program];
    if !subcommand {
        out.extend(["-c".into(), "-v".into()]);
    }
    out.extend(rest);
    out
}

/// The process's command line, the image's entrypoint and Go's flag forms included (see
/// [`container_argv`] and [`go_forms`]).
pub fn parse() -> Cli {
    let mut cmd = Cli::command();
    cmd.build();
    let argv = container_argv(std::env::args_os().collect());
    match go_forms(&cmd, argv) {
        Ok(argv) => Cli::from_list(argv),
        Err(e) => e.exit(),
    }
}

/// The classic flags alone, as a parser.
#[derive(Parser)]
#[command(
    name = "perftest",
    disable_version_flag = true,
    args_override_self = true
)]
struct ClassicOnly {
    #[command(flatten)]
    classic: Classic,
}

fn classic_command() -> clap::Command {
    let mut cmd = ClassicOnly::command();
    cmd.build();
    cmd
}

/// Parses the classic flags alone, as `perftest run default ARGS...` hands them to the script.
pub fn parse_classic(args: &[String]) -> Result<Classic, clap::Error> {
    let cmd = classic_command();
    let argv = std::iter::once("perftest".to_string()).chain(args.iter().cloned());
    ClassicOnly::try_parse_from(go_forms(&cmd, argv.map(OsString::from))?).map(|o| o.classic)
}

/// A path as text, any byte that is not UTF-8 shown as U+FFFD (a script reads text).
fn lossy_path<S: serde::Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_some(&p.to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// Rewrites the forms Go's flag package takes and clap does not, flag by flag as `cmd` defines
/// them: `--n 5` and `--n=5` (two dashes before a letter), `-insecure` (one dash before a long
/// name), `-j=true` / `-q=false` (a boolean's value, as Go's strconv.ParseBool reads it) and
/// `-n -5` (a value that starts with a dash). The rest is left for clap to judge, and nothing
/// after `--` or a subcommand's name is touched. The error: a boolean's value that is not one.
pub fn go_forms(
    cmd: &clap::Command,
    argv: impl IntoIterator<Item = OsString>,
) -> Result<Vec<OsString>, clap::Error> {
    let mut argv = argv.into_iter();
    let mut out: Vec<OsString> = argv.next().into_iter().collect();
    while let Some(arg) = argv.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" || cmd.find_subcommand(text).is_some() {
            out.push(arg);
            out.extend(argv);
            break;
        }
        let body = match text.strip_prefix("--").or_else(|| text.strip_prefix('-')) {
            Some(body) if !body.is_empty() && !body.starts_with('-') => body,
            _ => {
                out.push(arg);
                continue;
            }
        };
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let mut letters = name.chars();
        let letter = match (letters.next(), letters.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        };
        let def = cmd.get_arguments().find(|a| match letter {
            Some(c) => a.get_short() == Some(c),
            None => a.get_long() == Some(name),
        });
        let Some(def) = def else {
            out.push(arg);
            continue;
        };
        let flag = match letter {
            Some(c) => format!("-{c}"),
            None => format!("--{name}"),
        };
        if !def.get_action().takes_values() {
            match value.map(go_bool) {
                None | Some(Some(true)) => out.push(flag.into()),
                Some(Some(false)) => {}
                Some(None) => {
                    return Err(clap::Error::raw(
                        clap::error::ErrorKind::InvalidValue,
                        format!(
                            "invalid value '{}' for '{flag}': give true or false (or 1, 0, t, f)\n",
                            value.unwrap_or_default()
                        ),
                    )
                    .with_cmd(cmd));
                }
            }
            continue;
        }
        match value {
            Some(v) => out.push(format!("{flag}={v}").into()),
            // Go takes the next word as the value whatever it looks like: `-n -5`, `-W -`.
            None => match argv.next() {
                Some(v) => {
                    let mut joined = OsString::from(format!("{flag}="));
                    joined.push(v);
                    out.push(joined);
                }
                None => out.push(flag.into()),
            },
        }
    }
    Ok(out)
}

/// A boolean flag's value as Go's strconv.ParseBool reads it.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The error and the usage for a classic command line without a URL; Go's exit status 1.
pub fn no_urls_message() -> String {
    let mut cmd = Cli::command();
    format!(
        "perftest: no URLs to test: give one or more URLs, or set PERFTEST_URL\n\n{}\n\nSee perftest --help for the flags and the environment.\n",
        cmd.render_usage()
    )
}

// Values checked as they are parsed, so a bad one is a usage error (exit 2) naming the flag,
// before anything runs.

/// `-P`: a percentile from 0 to 100.
fn percentile_value(text: &str) -> Result<f64, String> {
    text.trim()
        .trim_start_matches(['p', 'P'])
        .parse::<f64>()
        .ok()
        .filter(|p| (0.0..=100.0).contains(p))
        .ok_or_else(|| "give a percentile from 0 to 100, such as 95 or 99.9".into())
}

/// `--period`: seconds, or a number with s, m, h or d.
fn duration_value(text: &str) -> Result<f64, String> {
    crate::plot::time::duration(text)
        .filter(|s| *s >= 1.0)
        .ok_or_else(|| "give a period of 1 s or more, such as 60, 30s, 5m or 1h".into())
}

/// `--size`: WIDTHxHEIGHT in pixels.
fn size_value(text: &str) -> Result<(u32, u32), String> {
    let fix =
        "give the size as WIDTHxHEIGHT in pixels, from 200x150 to 8000x8000, such as 1200x600";
    let (w, h) = text.split_once(['x', 'X']).ok_or(fix)?;
    let (w, h) = (w.trim().parse::<u32>(), h.trim().parse::<u32>());
    match (w, h) {
        (Ok(w), Ok(h)) if (200..=8000).contains(&w) && (150..=8000).contains(&h) => Ok((w, h)),
        _ => Err(fix.into()),
    }
}

/// Seconds for -d, --timeout, --connect-timeout: 0 to 1e9.
fn seconds_value(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| "give a number of seconds, such as 2 or 0.5".to_string())?;
    crate::probe::seconds("", v)
        .map(|_| v)
        .map_err(|_| "give a number of seconds from 0 to 1e9".to_string())
}

/// `--dns-server`: IP or IP:PORT.
fn dns_server_value(text: &str) -> Result<String, String> {
    crate::probe::socket_addr(text, 53)
        .map(|_| text.to_string())
        .map_err(|_| "give an IP address or IP:PORT, such as 127.0.0.1:5353 or [::1]:53".into())
}

/// `-X`: an HTTP method token.
fn method_value(text: &str) -> Result<String, String> {
    http::Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map(|_| text.to_string())
        .map_err(|_| "give an HTTP method such as GET, HEAD or POST".into())
}

/// `-H`: `Name: value`, a name and a value HTTP allows.
fn header_value(text: &str) -> Result<String, String> {
    let (name, value) = text
        .split_once(':')
        .ok_or("write a header as 'Name: value'")?;
    http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("'{}' is not a header name HTTP allows", name.trim()))?;
    http::HeaderValue::from_str(value.trim())
        .map_err(|_| "the value has characters HTTP does not allow in a header".to_string())?;
    Ok(text.to_string())
}

/// `--resolve`: HOST:PORT:ADDR, as curl takes it (an IPv6 host in brackets).
fn resolve_value(text: &str) -> Result<String, String> {
    let fix = "write it as HOST:PORT:ADDR, such as example.com:443:127.0.0.1";
    let rest = match text.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']').map(|(_, rest)| rest),
        None => text.find(':').map(|i| &text[i..]),
    }
    .and_then(|r| r.strip_prefix(':'))
    .ok_or(fix)?;
    let (port, addr) = rest.split_once(':').ok_or(fix)?;
    if port.parse::<u16>().map_or(true, |p| p == 0) || text.starts_with(':') {
        return Err(fix.into());
    }
    addr.trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .map_err(|_| format!("'{addr}' is not an IP address; {fix}"))?;
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(args: &[&str]) -> Vec<String> {
        let mut cmd = Cli::command();
        cmd.build();
        let argv = std::iter::once("perftest").chain(args.iter().copied());
        go_forms(&cmd, argv.map(OsString::from))
            .unwrap()
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn go_forms_become_clap_forms() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["-n", "5", "-d", "2"], &["-n=5", "-d=2"]),
            (&["--n", "5", "--d=2"], &["-n=5", "-d=2"]),
            (&["-n=5", "--f=3"], &["-n=5", "-f=3"]),
            (&["-j=true", "-q=false", "-v=1", "-V=F"], &["-j", "-v"]),
            (&["-j", "--q", "-c=T"], &["-j", "-q", "-c"]),
            (&["-n", "-5"], &["-n=-5"]),
            (
                &["-insecure", "-cacert", "ca.pem", "--http2=false"],
                &["--insecure", "--cacert=ca.pem"],
            ),
            (
                &["--cacert=ca.pem", "-k", "-L"],
                &["--cacert=ca.pem", "-k", "-L"],
            ),
            (&["-help"], &["--help"]),
            (&["--h"], &["-h"]),
            // Left for clap: grouped letters, a value glued on, what is not a flag of ours.
            (
                &["-kv", "-n5", "-x", "--nope=1", "-"],
                &["-kv", "-n5", "-x", "--nope=1", "-"],
            ),
            // URLs, and flags after them (ours takes both).
            (
                &["http://a/", "-n", "2", "b.test"],
                &["http://a/", "-n=2", "b.test"],
            ),
            // Nothing after -- or a subcommand's name is touched.
            (&["--", "-n", "1"], &["--", "-n", "1"]),
            (
                &["run", "slo", "--n", "1", "-j=true"],
                &["run", "slo", "--n", "1", "-j=true"],
            ),
            (
                &["-q", "scripts", "--definitions"],
                &["-q", "scripts", "--definitions"],
            ),
        ];
        for (given, want) in cases {
            assert_eq!(rewritten(given), *want, "{given:?}");
        }
    }

    #[test]
    fn a_boolean_that_is_not_one_is_a_usage_error() {
        let mut cmd = Cli::command();
        cmd.build();
        let argv = ["perftest", "-j=yes", "http://a/"].map(OsString::from);
        let e = go_forms(&cmd, argv).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("'yes' for '-j'"), "{e}");
    }

    #[test]
    fn the_classic_flags_parse_in_go_forms_for_run_default_too() {
        let args: Vec<String> = ["--n=3", "-d", "1.5", "-f=0", "-j=1", "-W=", "u"]
            .map(String::from)
            .into();
        let c = parse_classic(&args).unwrap();
        assert_eq!((c.n, c.d, c.f, c.json), (Some(3), Some(1.5), Some(0), true));
        assert_eq!(c.webhook.as_deref(), Some(""));
        assert_eq!(c.urls, ["u"]);
    }
}
