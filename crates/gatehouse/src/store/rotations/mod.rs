//! Refresh-token rotation: the one write of every refresh.
//!
//! Every refresh ends in the conditional UPDATE that moves its session's token chain to the
//! next generation. The statement keeps the per-row rules of a single update: a row changes
//! only while it still holds the presented generation and secret hash (another request may have
//! rotated it), the session is live, and the session's user row is unchanged since the refresh
//! read it (`users.version`). Several rotations waiting at once are applied as one
//! `UPDATE … FROM (…)`, which tells each request whether its row changed.
//!
//! Two writers apply it:
//! - `batched`, for PostgreSQL: requests hand their rotation to one task that applies
//!   everything waiting in one statement (one network round trip for many refreshes).
//! - `sqlite`, for SQLite: a connection of its own, written to directly by the request when it
//!   is free, so a refresh costs no thread hand-off; when it is busy, a writer thread batches.

mod batched;
mod sqlite;

use std::collections::HashSet;
use std::path::Path;

use sqlx::AnyPool;
use tokio::sync::oneshot;

use super::StoreResult;
use crate::clock::Millis;

/// Most rows in one statement (8 parameters each; well under SQLite's parameter limit).
const MAX_BATCH: usize = 64;

/// One rotation to apply.
pub(super) struct Rotation {
    pub session_id: String,
    /// The generation being rotated away from, and the hash of its secret.
    pub generation: i64,
    pub presented_hash: String,
    pub next_hash: String,
    /// The access-token claims issued with the next token.
    pub claims: String,
    /// The user row's `version` the claims were built from.
    pub user_version: i64,
    /// The organization the session is in after this rotation (a switch changes it); the
    /// user's membership there must still be active.
    pub organization_id: Option<String>,
    /// Whether `organization_id` differs from the session's (an organization switch). Only then
    /// does the statement set the column: setting it to its own value still rewrites its index
    /// entry, doubling the pages a refresh writes to SQLite's log.
    pub switches_organization: bool,
    pub now: Millis,
}

/// A rotation waiting for a batch, and where its answer goes.
struct Job {
    row: Rotation,
    /// Whether this row was rotated.
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// The handle requests use; cheap to clone.
#[derive(Clone, Debug)]
pub(super) enum RotationWriter {
    Batched(batched::BatchedWriter),
    Sqlite(sqlite::SqliteWriter),
}

impl RotationWriter {
    /// The batching task for `pool`, started on the current runtime.
    pub fn batched(pool: AnyPool) -> RotationWriter {
        RotationWriter::Batched(batched::BatchedWriter::start(pool))
    }

    /// A connection of its own to the SQLite database at `path`, and its writer thread.
    pub fn sqlite(path: &Path) -> StoreResult<RotationWriter> {
        Ok(RotationWriter::Sqlite(sqlite::SqliteWriter::open(path)?))
    }

    /// Closes the SQLite writer's connection (the pool's writer ends with the pool).
    pub async fn close(&self) {
        if let RotationWriter::Sqlite(writer) = self {
            writer.close().await;
        }
    }

    /// Applies `row`; whether the session was rotated (false: another request got there first,
    /// or the session or its user changed).
    pub async fn rotate(&self, row: Rotation) -> StoreResult<bool> {
        match self {
            RotationWriter::Batched(writer) => writer.rotate(row).await,
            RotationWriter::Sqlite(writer) => writer.rotate(row).await,
        }
    }
}

/// A batch to apply: `first`, then what `next` finds waiting, up to `MAX_BATCH`. A session twice
/// in one batch (a retried request) is rotated once: the first asker gets it, the others are
/// answered "not rotated" at once and take the grace path like any concurrent retry.
fn batch_from(first: Job, mut next: impl FnMut() -> Option<Job>) -> Vec<Job> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match next() {
            Some(job) => batch.push(job),
            None => break,
        }
    }
    let mut seen = HashSet::new();
    let (applied, repeated): (Vec<Job>, Vec<Job>) =
        batch.into_iter().partition(|job| seen.insert(job.row.session_id.clone()));
    for job in repeated {
        let _ = job.reply.send(Ok(false));
    }
    applied
}

/// Tells each job of an applied batch whether its session was rotated, or why the batch failed.
fn answer(applied: Vec<Job>, result: Result<HashSet<String>, impl std::fmt::Display>) {
    match result {
        Ok(rotated) => {
            for job in applied {
                let _ = job.reply.send(Ok(rotated.contains(&job.row.session_id)));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for job in applied {
                let _ = job.reply.send(Err(super::StoreError::Failed(message.clone())));
            }
        }
    }
}

/// `UPDATE sessions … FROM (SELECT … UNION ALL …) RETURNING id` for `rows` rotations, with
/// parameters `$1`… in the order of `Rotation`'s fields (8 per row); it sets the organization
/// only when `switching` (some row switches). The casts give PostgreSQL the parameter types it
/// cannot infer in a FROM list.
fn update_sql(rows: usize, switching: bool) -> String {
    let mut values = String::new();
    for i in 0..rows {
        let p = i * 8;
        if i > 0 {
            values.push_str(" UNION ALL ");
        }
        values.push_str(&format!(
            "SELECT CAST(${} AS TEXT) AS id, CAST(${} AS BIGINT) AS generation, CAST(${} AS TEXT) AS presented_hash, \
             CAST(${} AS TEXT) AS next_hash, CAST(${} AS TEXT) AS claims, CAST(${} AS BIGINT) AS user_version, \
             CAST(${} AS BIGINT) AS now, CAST(${} AS TEXT) AS organization_id",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 6,
            p + 7,
            p + 8
        ));
    }
    let organization = if switching { ", organization_id = v.organization_id" } else { "" };
    format!(
        "UPDATE sessions SET refresh_generation = v.generation + 1, refresh_hash = v.next_hash, \
         refreshed_at = v.now, refresh_claims = v.claims, updated_at = v.now{organization} \
         FROM ({values}) AS v \
         WHERE sessions.id = v.id AND sessions.refresh_generation = v.generation \
         AND sessions.refresh_hash = v.presented_hash AND sessions.ended_at IS NULL AND sessions.expires_at > v.now \
         AND EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id AND u.version = v.user_version) \
         AND (v.organization_id IS NULL OR EXISTS (SELECT 1 FROM organization_memberships m \
              WHERE m.organization_id = v.organization_id AND m.user_id = sessions.user_id AND m.status = 'active')) \
         RETURNING sessions.id"
    )
}
