//! The `convex-numbers` binary: serves the seed app's backend, trusting tokens from Gatehouse.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use convex_numbers::storage::Storage;
use convex_numbers::{AppState, http, seed_auth_config};
use tracing_subscriber::EnvFilter;

/// A Rust backend speaking enough of Convex's client protocol for the AuthKit seed app.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "CONVEX_NUMBERS_LISTEN", default_value = "127.0.0.1:3210")]
    listen: SocketAddr,
    /// SQLite database URL (`sqlite::memory:` or `sqlite://path/to/file.db`).
    #[arg(long, env = "CONVEX_NUMBERS_DATABASE", default_value = "sqlite::memory:")]
    database: String,
    /// The WorkOS (Gatehouse) client ID, as in the seed's `auth.config.ts`.
    #[arg(long, env = "WORKOS_CLIENT_ID")]
    client_id: String,
    /// Gatehouse's public URL; the issuers and the JWKS URL are built from it.
    #[arg(long, env = "GATEHOUSE_URL", default_value = "http://localhost:8080")]
    gatehouse_url: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let auth = match seed_auth_config(&args.gatehouse_url, &args.client_id) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: auth config: {} ({})", e.message(), e.code());
            return ExitCode::from(2);
        }
    };
    let storage = match Storage::open(&args.database).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: opening {}: {e}", args.database);
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: listening on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let addr = listener.local_addr().unwrap_or(args.listen);
    let gatehouse = args.gatehouse_url.trim_end_matches('/');
    println!("convex-numbers listening on http://{addr} (VITE_CONVEX_URL=http://{addr})");
    println!(
        "trusting tokens from {gatehouse}/user_management/{} (JWKS {gatehouse}/sso/jwks/{})",
        args.client_id, args.client_id
    );
    let app = http::router(AppState::new(auth, storage));
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
