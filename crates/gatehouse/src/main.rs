//! The `gatehouse` binary; see `gatehouse --help`.

fn main() -> std::process::ExitCode {
    gatehouse::cli::main()
}
