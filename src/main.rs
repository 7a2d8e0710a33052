use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = perftest::cli::parse();
    let code = perftest::run(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
