//! `cargo run -p gatehouse-verify --example verify_token -- auth.config.json <TOKEN|->`
//!
//! The same entry point the `gatehouse verify-token` subcommand calls.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, token] = args.as_slice() else {
        eprintln!("usage: verify_token <auth.config.json> <TOKEN|->");
        return ExitCode::from(gatehouse_verify::cli::EXIT_CONFIG);
    };
    let (code, out) = gatehouse_verify::cli::verify_token_main(std::path::Path::new(config), token).await;
    print!("{out}");
    ExitCode::from(code)
}
