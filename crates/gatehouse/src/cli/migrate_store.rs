//! `gatehouse migrate-store`: copies a whole store into another database, e.g. from the embedded
//! SQLite file to PostgreSQL (see `Store::copy_into` for what makes the copy consistent).

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;

use super::write_stdout;
use crate::store::{CopyProgress, Store, redact_url};

#[derive(clap::Args, Debug)]
pub struct MigrateStoreArgs {
    /// The store to copy from (default: the one the other commands use: --database-url, else
    /// the SQLite file in --data).
    #[arg(long, value_name = "URL")]
    from: Option<String>,
    /// The store to copy into: postgres://… (the database must exist) or sqlite://PATH.
    #[arg(long, value_name = "URL")]
    to: String,
    /// Delete what the target already holds first (in the same transaction as the copy).
    #[arg(long)]
    overwrite: bool,
}

/// Runs the command; `default_from` is the store the other commands would open.
pub async fn run(args: MigrateStoreArgs, default_from: String, json: bool) -> anyhow::Result<()> {
    let from = args.from.unwrap_or(default_from);
    if from == args.to {
        bail!("--from and --to are the same store");
    }
    if let Some(path) = sqlite_path(&from)
        && !std::path::Path::new(path).exists()
    {
        bail!("there is no store at {path} (give --from, --data or --database-url)");
    }
    let started = Instant::now();
    let source = open(&from).await?;
    let target = open(&args.to).await?;
    eprintln!("Copying {} into {}", redact_url(&from), redact_url(&args.to));
    let mut last_print = Instant::now();
    let mut report = |p: CopyProgress| {
        let done = p.copied == p.total;
        if done || last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            if done {
                eprintln!("  {:<24} {:>9} rows", p.table, p.copied);
            } else {
                eprintln!("  {:<24} {:>9} of {} rows…", p.table, p.copied, p.total);
            }
        }
    };
    let result = source.copy_into(&target, args.overwrite, &mut report).await;
    source.close().await;
    target.close().await;
    let tables = result.context("nothing was copied")?;
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    let elapsed = started.elapsed();
    if json {
        let out = json!({
            "from": redact_url(&from), "to": redact_url(&args.to), "tables": tables, "rows": rows,
            "elapsed_ms": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        });
        write_stdout(&format!("{}\n", serde_json::to_string_pretty(&out).unwrap_or_default()));
    } else {
        write_stdout(&format!(
            "Copied {rows} rows in {} tables in {:.1} s.\n\
             Start the servers with --database-url {} and the same server key as before \
             (GATEHOUSE_SECRET_KEY, or the secret.key of the old data folder): provider secrets, \
             authenticator secrets and queued emails were copied sealed with it.\n",
            tables.len(),
            elapsed.as_secs_f64(),
            redact_url(&args.to)
        ));
    }
    Ok(())
}

async fn open(url: &str) -> anyhow::Result<Store> {
    let store = Store::connect(url, 4, 0).await.with_context(|| format!("cannot open {}", redact_url(url)))?;
    store.migrate().await.with_context(|| format!("cannot apply the migrations to {}", redact_url(url)))?;
    Ok(store)
}

/// The file of a `sqlite://PATH[?…]` URL.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split('?').next().unwrap_or(rest))
}
