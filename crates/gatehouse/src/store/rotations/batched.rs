//! Group commit through the shared pool (PostgreSQL): requests hand their rotation to one task,
//! which applies everything waiting as a single statement.

use std::collections::HashSet;

use sqlx::{AnyPool, Row as _};
use tokio::sync::{mpsc, oneshot};

use super::{Job, Rotation, answer, batch_from, update_sql};
use crate::store::{StoreError, StoreResult};

#[derive(Clone, Debug)]
pub(crate) struct BatchedWriter {
    jobs: mpsc::Sender<Job>,
}

impl BatchedWriter {
    /// Starts the batching task on the current runtime.
    pub fn start(pool: AnyPool) -> BatchedWriter {
        let (jobs, queue) = mpsc::channel(1024);
        tokio::spawn(run(pool, queue));
        BatchedWriter { jobs }
    }

    pub async fn rotate(&self, row: Rotation) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { row, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Failed("the refresh writer stopped".into())
}

async fn run(pool: AnyPool, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let applied = batch_from(first, || queue.try_recv().ok());
        let result = update_batch(&pool, &applied).await;
        answer(applied, result);
    }
}

/// Applies `batch` in one statement; returns the sessions whose token was rotated.
async fn update_batch(pool: &AnyPool, batch: &[Job]) -> Result<HashSet<String>, sqlx::Error> {
    let sql = update_sql(batch.len(), batch.iter().any(|job| job.row.switches_organization));
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
