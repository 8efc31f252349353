fn main() -> std::process::ExitCode {
    boomgate::cli::main()
}
