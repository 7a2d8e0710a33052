use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let argv = perftest::cli::container_argv(std::env::args_os().collect());
    let cli = perftest::cli::Cli::parse_from(argv);
    let code = perftest::run(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
