//! Group commit for refresh-token rotation.
//!
//! Every refresh ends in one write: the insert of the presented token's successor. On SQLite
//! there is one writer connection, and each statement is a round trip to its thread, so under
//! load requests would queue for it one statement at a time. Instead, requests hand their insert
//! to one task, which writes everything waiting as a single multi-row statement and tells each
//! request whether its row went in. The statement keeps the per-row rules of a single insert:
//! a row is skipped when its parent already has a successor (unique `parent_hash`) or its
//! session is over.

use std::collections::HashSet;

use sqlx::{AnyPool, Row as _};
use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};
use crate::clock::Millis;

/// Most rows in one statement (5 parameters each; well under SQLite's parameter limit).
const MAX_BATCH: usize = 64;

/// One successor to insert.
pub(super) struct Successor {
    pub parent_hash: String,
    pub token_hash: String,
    pub session_id: String,
    pub claims: String,
    pub now: Millis,
}

struct Job {
    row: Successor,
    /// Whether this row was inserted.
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// The handle requests use; cheap to clone.
#[derive(Clone, Debug)]
pub(super) struct SuccessorWriter {
    jobs: mpsc::Sender<Job>,
}

impl SuccessorWriter {
    /// Starts the batching task on the current runtime.
    pub fn start(pool: AnyPool) -> SuccessorWriter {
        let (jobs, queue) = mpsc::channel(1024);
        tokio::spawn(run(pool, queue));
        SuccessorWriter { jobs }
    }

    pub async fn insert(&self, row: Successor) -> StoreResult<bool> {
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
        match insert_batch(&pool, &batch).await {
            Ok(mut inserted) => {
                for job in batch {
                    // A parent twice in one batch (a retried request) is inserted once: the first
                    // asker gets it, the other takes the grace path like any concurrent retry.
                    let _ = job.reply.send(Ok(inserted.remove(&job.row.parent_hash)));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for job in batch {
                    let _ = job.reply.send(Err(StoreError::Failed(message.clone())));
                }
            }
        }
    }
}

/// One `INSERT … SELECT … UNION ALL … ON CONFLICT DO NOTHING RETURNING`: returns the parent
/// hashes whose successor went in.
async fn insert_batch(pool: &AnyPool, batch: &[Job]) -> Result<HashSet<String>, sqlx::Error> {
    let mut sql = String::from("INSERT INTO refresh_tokens (token_hash, session_id, parent_hash, claims, created_at) ");
    for i in 0..batch.len() {
        let p = i * 5;
        if i > 0 {
            sql.push_str(" UNION ALL ");
        }
        sql.push_str(&format!(
            "SELECT ${}, ${}, ${}, ${}, ${} WHERE EXISTS \
             (SELECT 1 FROM sessions WHERE id = ${} AND ended_at IS NULL AND expires_at > ${})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 2,
            p + 5
        ));
    }
    sql.push_str(" ON CONFLICT (parent_hash) DO NOTHING RETURNING parent_hash");
    let mut query = sqlx::query(&sql);
    for job in batch {
        let r = &job.row;
        query = query.bind(&r.token_hash).bind(&r.session_id).bind(&r.parent_hash).bind(&r.claims).bind(r.now);
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(|row| row.try_get::<String, _>("parent_hash")).collect()
}
