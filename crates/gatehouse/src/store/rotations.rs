//! Group commit for refresh-token rotation.
//!
//! Every refresh ends in one write: the conditional UPDATE that moves its session's token chain
//! to the next generation. On SQLite there is one writer connection, and each statement is a
//! round trip to its thread, so under load requests would queue for it one statement at a time.
//! Instead, requests hand their rotation to one task, which applies everything waiting as a
//! single `UPDATE … FROM (…)` and tells each request whether its row changed. The statement
//! keeps the per-row rules of a single update: a row changes only while it still holds the
//! presented generation and secret hash (another request may have rotated it), the session is
//! live, and the session's user row is unchanged since the refresh read it (`users.version`).

use std::collections::HashSet;

use sqlx::{AnyPool, Row as _};
use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};
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
    pub now: Millis,
}

struct Job {
    row: Rotation,
    /// Whether this row was rotated.
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// The handle requests use; cheap to clone.
#[derive(Clone, Debug)]
pub(super) struct RotationWriter {
    jobs: mpsc::Sender<Job>,
}

impl RotationWriter {
    /// Starts the batching task on the current runtime.
    pub fn start(pool: AnyPool) -> RotationWriter {
        let (jobs, queue) = mpsc::channel(1024);
        tokio::spawn(run(pool, queue));
        RotationWriter { jobs }
    }

    pub async fn rotate(&self, row: Rotation) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { row, reply })
            .await
            .map_err(|_| StoreError::Failed("the refresh writer stopped".into()))?;
        answer.await.map_err(|_| StoreError::Failed("the refresh writer stopped".into()))?
    }
}

async fn run(pool: AnyPool, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A session twice in one batch (a retried request) is rotated once: the first asker
        // gets it, the others are told no and take the grace path like any concurrent retry.
        let mut seen = HashSet::new();
        let (applied, refused): (Vec<Job>, Vec<Job>) =
            batch.into_iter().partition(|job| seen.insert(job.row.session_id.clone()));
        for job in refused {
            let _ = job.reply.send(Ok(false));
        }
        match update_batch(&pool, &applied).await {
            Ok(rotated) => {
                for job in applied {
                    let _ = job.reply.send(Ok(rotated.contains(&job.row.session_id)));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for job in applied {
                    let _ = job.reply.send(Err(StoreError::Failed(message.clone())));
                }
            }
        }
    }
}

/// One `UPDATE sessions … FROM (SELECT … UNION ALL …) RETURNING id`: returns the sessions whose
/// token was rotated. The casts give PostgreSQL the parameter types it cannot infer in a FROM list.
async fn update_batch(pool: &AnyPool, batch: &[Job]) -> Result<HashSet<String>, sqlx::Error> {
    let mut rows = String::new();
    for i in 0..batch.len() {
        let p = i * 8;
        if i > 0 {
            rows.push_str(" UNION ALL ");
        }
        rows.push_str(&format!(
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
    let sql = format!(
        "UPDATE sessions SET refresh_generation = v.generation + 1, refresh_hash = v.next_hash, \
         refreshed_at = v.now, refresh_claims = v.claims, updated_at = v.now, organization_id = v.organization_id \
         FROM ({rows}) AS v \
         WHERE sessions.id = v.id AND sessions.refresh_generation = v.generation \
         AND sessions.refresh_hash = v.presented_hash AND sessions.ended_at IS NULL AND sessions.expires_at > v.now \
         AND EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id AND u.version = v.user_version) \
         AND (v.organization_id IS NULL OR EXISTS (SELECT 1 FROM organization_memberships m \
              WHERE m.organization_id = v.organization_id AND m.user_id = sessions.user_id AND m.status = 'active')) \
         RETURNING sessions.id"
    );
    let mut query = sqlx::query(&sql);
    for job in batch {
        let r = &job.row;
        query = query
            .bind(&r.session_id)
            .bind(r.generation)
            .bind(&r.presented_hash)
            .bind(&r.next_hash)
            .bind(&r.claims)
            .bind(r.user_version)
            .bind(r.now)
            .bind(&r.organization_id);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(|row| row.try_get::<String, _>("id")).collect()
}
