use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = perftest::cli::Cli::parse();
    let code = perftest::run(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
