//! `gatehouse backup FILE` and `gatehouse restore FILE`: a consistent copy of the SQLite store
//! while the server runs, and putting one back while it is stopped. PostgreSQL stores use
//! `pg_dump` / `pg_restore` (the README says how). The server key (`secret.key` or
//! `GATEHOUSE_SECRET_KEY`) is not in the store: back it up separately.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::json;

use super::write_stdout;
use crate::store::Store;

/// The SQLite file behind a `sqlite://PATH[?…]` URL, or why the command does not apply.
fn sqlite_file(url: &str) -> anyhow::Result<PathBuf> {
    let Some(rest) = url.strip_prefix("sqlite://") else {
        bail!(
            "backup and restore work on the SQLite store; for PostgreSQL use pg_dump and pg_restore (see the README)"
        );
    };
    Ok(PathBuf::from(rest.split('?').next().unwrap_or(rest)))
}

/// `gatehouse backup FILE`: safe while the server runs.
pub async fn backup(url: &str, file: &Path, json: bool) -> anyhow::Result<()> {
    let source = sqlite_file(url)?;
    if !source.exists() {
        bail!("there is no store at {} (give --data or --database-url)", source.display());
    }
    if file.exists() {
        bail!("{} exists; choose a new file name (a backup never overwrites)", file.display());
    }
    let path = file.to_str().context("the backup file name is not valid UTF-8")?;
    let store = Store::connect(url, 1, 0).await.context("cannot open the store")?;
    let result = store.backup_into(path).await;
    store.close().await;
    result.context("the backup failed")?;
    restrict(file)?;
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    if json {
        write_stdout(&format!("{}\n", json!({ "backup": file.display().to_string(), "bytes": bytes })));
    } else {
        write_stdout(&format!(
            "Backed up {} to {} ({bytes} bytes).\n\
             Keep the server key (secret.key in the data folder, or GATEHOUSE_SECRET_KEY) with it: sealed secrets need it.\n",
            source.display(),
            file.display()
        ));
    }
    Ok(())
}

/// `gatehouse restore FILE`: replaces the store with a backup. Stop the server first.
pub async fn restore(url: &str, file: &Path, json: bool) -> anyhow::Result<()> {
    let target = sqlite_file(url)?;
    if !file.exists() {
        bail!("there is no backup at {}", file.display());
    }
    let mut header = [0_u8; 16];
    let is_sqlite = std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header))
        .is_ok_and(|()| &header == b"SQLite format 3\0");
    if !is_sqlite {
        bail!("{} is not an SQLite database (not a file `gatehouse backup` wrote)", file.display());
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Copy beside the target, check the copy is a Gatehouse store that opens, then rename it
    // over the target: the store is either the old one or the backup, never half of each. The
    // old write-ahead log belongs to the old file.
    let staged = target.with_extension("db.restoring");
    std::fs::copy(file, &staged).with_context(|| format!("cannot copy {} to {}", file.display(), staged.display()))?;
    restrict(&staged)?;
    let missing = check_store(&staged).await;
    if let Err(e) = missing {
        let _ = std::fs::remove_file(&staged);
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", staged.display()));
        }
        return Err(e);
    }
    let missing = missing?;
    std::fs::File::open(&staged).and_then(|f| f.sync_all()).context("cannot flush the restored file")?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", target.display()));
        if side.exists() {
            std::fs::remove_file(&side).with_context(|| format!("cannot remove {}", side.display()))?;
        }
    }
    std::fs::rename(&staged, &target).with_context(|| format!("cannot replace {}", target.display()))?;
    if json {
        write_stdout(&format!(
            "{}\n",
            json!({ "restored": target.display().to_string(), "from": file.display().to_string() })
        ));
    } else {
        let mut text = format!("Restored {} from {}.\n", target.display(), file.display());
        if missing > 0 {
            text.push_str(&format!(
                "The backup is from an older version: the server applies {missing} migration(s) when it starts.\n"
            ));
        }
        write_stdout(&text);
    }
    Ok(())
}

/// Opens a restored copy as a store; how many migrations it lacks (an older backup).
async fn check_store(path: &Path) -> anyhow::Result<usize> {
    let store = Store::connect(&format!("sqlite://{}", path.display()), 1, 0)
        .await
        .context("the backup does not open as a database")?;
    let missing = store.missing_migrations().await.context("the file is not a Gatehouse store");
    store.close().await;
    missing
}

/// Backups hold password hashes and sealed secrets: readable by the owner only.
fn restrict(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    Ok(())
}
