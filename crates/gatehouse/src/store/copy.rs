//! Copying every table of one store into another (`gatehouse migrate-store`), e.g. from the
//! embedded SQLite file to PostgreSQL, and back.
//!
//! The source is read in one snapshot (one read transaction; `REPEATABLE READ` on PostgreSQL),
//! so the copy is consistent even if a server still writes to it (those later writes are not
//! copied). The target is written in one transaction: it gets everything or nothing. Rows are
//! copied as they are, sealed values included, so the target needs the same server key. A target
//! that already holds data is refused unless the caller asks to overwrite it, which deletes its
//! rows in that same transaction.

use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};

use super::{Backend, Store, StoreError};

/// Every table and its one-column primary key, parents before children (foreign keys).
/// A unit test checks that this covers exactly the tables the migrations create.
pub const TABLES: &[(&str, &str)] = &[
    ("server_secrets", "name"),
    ("environments", "id"),
    ("api_keys", "id"),
    ("signing_keys", "kid"),
    ("redirect_uris", "id"),
    ("cors_origins", "id"),
    ("oauth_providers", "id"),
    ("users", "id"),
    ("organizations", "id"),
    ("permissions", "id"),
    ("roles", "id"),
    ("organization_memberships", "id"),
    ("organization_domains", "id"),
    ("invitations", "id"),
    ("resource_types", "id"),
    ("authorization_resources", "id"),
    ("role_assignments", "id"),
    ("sessions", "id"),
    ("authorization_requests", "id"),
    ("authorization_codes", "code_hash"),
    ("impersonations", "token_hash"),
    ("throttle", "key"),
    ("pending_authentications", "token_hash"),
    ("hosted_sign_ups", "token_hash"),
    ("one_time_codes", "id"),
    ("email_outbox", "id"),
    ("auth_factors", "id"),
    ("auth_challenges", "id"),
    ("recovery_codes", "code_hash"),
    ("passkeys", "id"),
    ("webauthn_ceremonies", "id_hash"),
    ("security_sessions", "token_hash"),
    ("user_identities", "id"),
    ("social_logins", "state_hash"),
    ("events", "id"),
    ("event_counters", "environment_id"),
    ("webhook_endpoints", "id"),
    ("webhook_deliveries", "id"),
    ("throttled_daily", "id"),
];

/// Bound parameters per INSERT (SQLite allows 32766, PostgreSQL 65535).
const PARAMS_PER_BATCH: usize = 8000;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the target already holds data ({table}: {rows} rows); copy into an empty database, or pass --overwrite to delete what it holds"
    )]
    TargetNotEmpty { table: &'static str, rows: i64 },
    #[error("the two stores have different schemas: {0}")]
    SchemaMismatch(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CopyError {
    fn from(e: sqlx::Error) -> CopyError {
        CopyError::Store(StoreError::Database(e))
    }
}

/// Where a copy is, for progress output.
#[derive(Clone, Copy, Debug)]
pub struct CopyProgress {
    pub table: &'static str,
    pub copied: u64,
    pub total: u64,
}

/// How many rows one table had.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TableCopied {
    pub table: &'static str,
    pub rows: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Text,
    BigInt,
}

struct Column {
    name: String,
    kind: ColumnType,
}

impl Store {
    /// Copies every row of this store into `target` (both migrated to the same version).
    /// `progress` is called as rows are written.
    pub async fn copy_into(
        &self,
        target: &Store,
        overwrite: bool,
        progress: &mut (dyn FnMut(CopyProgress) + Send),
    ) -> Result<Vec<TableCopied>, CopyError> {
        let source_versions = versions(self).await?;
        let target_versions = versions(target).await?;
        if source_versions != target_versions {
            return Err(CopyError::SchemaMismatch(format!(
                "migrations {source_versions:?} in the source, {target_versions:?} in the target"
            )));
        }
        let unknown: Vec<String> =
            table_names(self).await?.into_iter().filter(|t| !TABLES.iter().any(|(name, _)| name == t)).collect();
        if !unknown.is_empty() {
            return Err(CopyError::SchemaMismatch(format!(
                "the source has tables this version does not know: {unknown:?}"
            )));
        }

        let begin = match self.backend {
            // The snapshot starts with the first read and lasts until the transaction ends.
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let mut source = self.readers.begin_with(begin).await?;
        let mut dest = target.begin().await?;
        for (table, _) in TABLES {
            let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut *dest).await?;
            if rows > 0 && !overwrite {
                return Err(CopyError::TargetNotEmpty { table, rows });
            }
        }
        if overwrite {
            for (table, _) in TABLES.iter().rev() {
                sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *dest).await?;
            }
        }
        let mut copied = Vec::with_capacity(TABLES.len());
        for (table, key) in TABLES {
            let columns = columns(self, &mut source, table).await?;
            let target_columns = columns_of(target.backend, &mut dest, table).await?;
            let names = |cs: &[Column]| {
                let mut n: Vec<String> = cs.iter().map(|c| c.name.clone()).collect();
                n.sort();
                n
            };
            if names(&columns) != names(&target_columns) {
                return Err(CopyError::SchemaMismatch(format!("the columns of {table} differ")));
            }
            let rows = copy_table(&mut source, &mut dest, table, key, &columns, progress).await?;
            copied.push(TableCopied { table, rows });
        }
        dest.commit().await?;
        source.rollback().await?;
        Ok(copied)
    }
}

async fn versions(store: &Store) -> Result<Vec<i64>, CopyError> {
    Ok(sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version").fetch_all(&store.pool).await?)
}

async fn table_names(store: &Store) -> Result<Vec<String>, CopyError> {
    let sql = match store.backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'"
        }
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'"
        }
    };
    Ok(sqlx::query_scalar(sql).fetch_all(&store.pool).await?)
}

async fn columns(store: &Store, tx: &mut Transaction<'static, Any>, table: &str) -> Result<Vec<Column>, CopyError> {
    columns_of(store.backend, tx, table).await
}

/// The columns of `table` in their declared order, with their types (TEXT or BIGINT only).
async fn columns_of(
    backend: Backend,
    tx: &mut Transaction<'static, Any>,
    table: &str,
) -> Result<Vec<Column>, CopyError> {
    let sql = match backend {
        Backend::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres => {
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position"
        }
    };
    let rows: Vec<(String, String)> = sqlx::query_as(sql).bind(table).fetch_all(&mut **tx).await?;
    if rows.is_empty() {
        return Err(CopyError::SchemaMismatch(format!("there is no table {table}")));
    }
    rows.into_iter()
        .map(|(name, declared)| {
            let kind = match declared.to_ascii_lowercase().as_str() {
                "text" => ColumnType::Text,
                "bigint" | "integer" => ColumnType::BigInt,
                other => {
                    return Err(CopyError::SchemaMismatch(format!("{table}.{name} has the unexpected type {other}")));
                }
            };
            Ok(Column { name, kind })
        })
        .collect()
}

enum Value {
    Text(Option<String>),
    BigInt(Option<i64>),
}

/// Copies one table in key order, a batch at a time; returns the number of rows.
async fn copy_table(
    source: &mut Transaction<'static, Any>,
    dest: &mut Transaction<'static, Any>,
    table: &'static str,
    key: &str,
    columns: &[Column],
    progress: &mut (dyn FnMut(CopyProgress) + Send),
) -> Result<u64, CopyError> {
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut **source).await?;
    let total = u64::try_from(total).unwrap_or(0);
    progress(CopyProgress { table, copied: 0, total });
    let list = columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    let batch = (PARAMS_PER_BATCH / columns.len()).max(1);
    let key_index = columns
        .iter()
        .position(|c| c.name == key)
        .ok_or_else(|| CopyError::SchemaMismatch(format!("{table} has no column {key}")))?;
    let mut after: Option<String> = None;
    let mut copied = 0_u64;
    loop {
        let rows: Vec<AnyRow> = match &after {
            None => {
                sqlx::query(&format!("SELECT {list} FROM {table} ORDER BY {key} LIMIT {batch}"))
                    .fetch_all(&mut **source)
                    .await?
            }
            Some(last) => {
                sqlx::query(&format!("SELECT {list} FROM {table} WHERE {key} > $1 ORDER BY {key} LIMIT {batch}"))
                    .bind(last)
                    .fetch_all(&mut **source)
                    .await?
            }
        };
        if rows.is_empty() {
            break;
        }
        let mut values = Vec::with_capacity(rows.len() * columns.len());
        for row in &rows {
            for (i, column) in columns.iter().enumerate() {
                values.push(match column.kind {
                    ColumnType::Text => Value::Text(row.try_get(i)?),
                    ColumnType::BigInt => Value::BigInt(row.try_get(i)?),
                });
            }
        }
        after = rows.last().map(|r| r.try_get::<String, _>(key_index)).transpose()?;
        let placeholders = (0..rows.len())
            .map(|r| {
                let one = (0..columns.len()).map(|c| format!("${}", r * columns.len() + c + 1)).collect::<Vec<_>>();
                format!("({})", one.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO {table} ({list}) VALUES {placeholders}");
        let mut insert = sqlx::query(&sql);
        for value in values {
            insert = match value {
                Value::Text(v) => insert.bind(v),
                Value::BigInt(v) => insert.bind(v),
            };
        }
        insert.execute(&mut **dest).await?;
        copied += rows.len() as u64;
        progress(CopyProgress { table, copied, total: total.max(copied) });
        if rows.len() < batch {
            break;
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_table_list_covers_every_table_the_migrations_create() {
        let dir = std::env::temp_dir().join(format!("gh-copy-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.join("s.db").display()), 1, 0).await.unwrap();
        store.migrate().await.unwrap();
        let mut found = table_names(&store).await.unwrap();
        found.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|(t, _)| (*t).to_owned()).collect();
        listed.sort();
        assert_eq!(found, listed);
        store.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }
}
