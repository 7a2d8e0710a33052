fn main() -> std::process::ExitCode {
    perftest::main()
}
