use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = perftest::cli::parse();
    // A panic that reached this far has been reported on one line by the hook.
    let code =
        std::panic::catch_unwind(|| perftest::run(cli)).unwrap_or(perftest::panics::EXIT_INTERNAL);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
