use std::process::ExitCode;

use clap::Parser;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = perftest::cli::Cli::parse();
    let code = perftest::run(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
