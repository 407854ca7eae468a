//! One WebSocket sync session: Convex's sync worker in miniature (`crates/sync/src/{worker,state}.rs`).
//!
//! The session tracks the versions the client has asked for (query set, identity) and the version it
//! last sent. Whenever something changes it re-runs the subscribed queries, keeps only results whose
//! value changed (Convex dedups by result hash), and sends one `Transition` from the last sent version
//! to the new one. `Authenticate` verifies the token on the spot; a rejected token gets `AuthError`
//! (`authUpdateAttempted: true`) and a close frame without a status code, as Convex does. A held
//! identity is re-checked whenever it is used (a mutation or a query re-run); once expired the client
//! gets `AuthError{"Convex token identity expired", authUpdateAttempted: false}` and the socket closes.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use axum::extract::ws::{Message, WebSocket};
use gatehouse_verify::{UserIdentity, VerifyError};
use serde_json::Value as Json;
use tokio::time::{Instant, sleep_until};

use crate::AppState;
use crate::functions::{self, Kind};
use crate::protocol::{ClientMessage, QuerySetModification, ServerMessage, StateModification, StateVersion, decode_ts};

/// Convex sends `Ping` after this long without another message (`HEARTBEAT_INTERVAL`).
pub const HEARTBEAT: Duration = Duration::from_secs(15);

struct Query {
    udf_path: String,
    args: Json,
    /// The last value or error sent, to send only changes.
    last_sent: Option<Result<Json, String>>,
}

/// Why a session ends.
enum End {
    /// The client went away.
    Closed,
    /// Send this `AuthError`, then close without a status code.
    Auth(ServerMessage),
    /// A protocol violation: close with 1008 and this reason.
    Protocol(String),
}

struct Session {
    app: AppState,
    /// Versions received from the client.
    received_query_set: u32,
    received_identity: u32,
    /// The version of the last transition sent.
    current: StateVersion,
    identity: Option<UserIdentity>,
    queries: BTreeMap<u32, Query>,
    removed: Vec<u32>,
    client_clock_skew: Option<i64>,
    /// A transition must be sent (the client waits for one).
    must_send: bool,
    /// Queries should be re-run (data changed); send only if something did.
    rerun: bool,
}

/// Runs a session until the socket closes.
pub async fn run(app: AppState, mut socket: WebSocket) {
    app.stats().connections.fetch_add(1, Ordering::Relaxed);
    let mut writes = app.storage().subscribe_writes();
    writes.mark_unchanged();
    let mut session = Session {
        app,
        received_query_set: 0,
        received_identity: 0,
        current: StateVersion::default(),
        identity: None,
        queries: BTreeMap::new(),
        removed: vec![],
        client_clock_skew: None,
        must_send: false,
        rerun: false,
    };
    let mut ping_at = Instant::now() + HEARTBEAT;
    let end = loop {
        let step = tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => session.handle_text(text.as_str()).await,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Err(End::Closed),
                Some(Ok(_)) => Ok(vec![]),
            },
            changed = writes.changed() => {
                if changed.is_ok() && !session.queries.is_empty() {
                    session.rerun = true;
                }
                Ok(vec![])
            },
            () = sleep_until(ping_at) => Ok(vec![ServerMessage::Ping]),
        };
        let mut outgoing = match step {
            Ok(messages) => messages,
            Err(end) => break end,
        };
        match session.transition().await {
            Ok(Some(transition)) => outgoing.push(transition),
            Ok(None) => {}
            Err(end) => {
                if send_all(&mut socket, &outgoing).await.is_err() {
                    break End::Closed;
                }
                break end;
            }
        }
        if !outgoing.is_empty() {
            if send_all(&mut socket, &outgoing).await.is_err() {
                break End::Closed;
            }
            ping_at = Instant::now() + HEARTBEAT;
        }
    };
    match end {
        End::Closed => {}
        End::Auth(message) => {
            session.app.stats().auth_errors.fetch_add(1, Ordering::Relaxed);
            let _ = socket.send(Message::Text(message.to_text().into())).await;
            // No status code: the client sees 1005 and reconnects without logging an error.
            let _ = socket.send(Message::Close(None)).await;
        }
        End::Protocol(reason) => {
            tracing::warn!(%reason, "closing sync socket");
            let frame = axum::extract::ws::CloseFrame { code: 1008, reason: reason.into() };
            let _ = socket.send(Message::Close(Some(frame))).await;
        }
    }
}

async fn send_all(socket: &mut WebSocket, messages: &[ServerMessage]) -> Result<(), axum::Error> {
    for message in messages {
        socket.send(Message::Text(message.to_text().into())).await?;
    }
    Ok(())
}

impl Session {
    async fn handle_text(&mut self, text: &str) -> Result<Vec<ServerMessage>, End> {
        let message: ClientMessage =
            serde_json::from_str(text).map_err(|e| End::Protocol(format!("Invalid message: {e}")))?;
        match message {
            ClientMessage::Connect {
                session_id,
                connection_count,
                last_close_reason,
                client_ts,
                max_observed_timestamp,
            } => {
                tracing::debug!(%session_id, connection_count, ?last_close_reason, "connect");
                if let Some(ts) = client_ts {
                    self.client_clock_skew = Some(ts as i64 - now_millis());
                }
                if let Some(ts) = max_observed_timestamp.as_deref().and_then(decode_ts) {
                    // Convex refuses a client that saw a newer timestamp; we move our clock instead.
                    self.app.storage().clock().observe(ts);
                }
                Ok(vec![])
            }
            ClientMessage::ModifyQuerySet { base_version, new_version, modifications } => {
                if base_version != self.received_query_set || new_version <= base_version {
                    return Err(End::Protocol(format!(
                        "Base version {base_version} passed up doesn't match the current version {}",
                        self.received_query_set
                    )));
                }
                for modification in modifications {
                    match modification {
                        QuerySetModification::Add { query_id, udf_path, args, component_path: _ } => {
                            self.queries.insert(query_id, Query { udf_path, args, last_sent: None });
                        }
                        QuerySetModification::Remove { query_id } => {
                            if self.queries.remove(&query_id).is_some() {
                                self.removed.push(query_id);
                            }
                        }
                    }
                }
                self.received_query_set = new_version;
                self.must_send = true;
                Ok(vec![])
            }
            ClientMessage::Authenticate { token_type, value, base_version } => {
                self.authenticate(&token_type, value.as_deref(), base_version).await
            }
            ClientMessage::Mutation { request_id, udf_path, args, component_path: _ } => {
                let identity = self.checked_identity()?;
                self.app.stats().mutations.fetch_add(1, Ordering::Relaxed);
                let response =
                    match functions::call(self.app.storage(), Kind::Mutation, &udf_path, &args, identity).await {
                        Ok(outcome) => ServerMessage::MutationResponse {
                            request_id,
                            success: true,
                            result: outcome.value.to_convex_json(),
                            ts: Some(outcome.write_ts.unwrap_or_else(|| self.app.storage().clock().current())),
                            log_lines: outcome.log_lines,
                        },
                        Err(e) => ServerMessage::MutationResponse {
                            request_id,
                            success: false,
                            result: Json::String(e.0),
                            ts: None,
                            log_lines: vec![],
                        },
                    };
                // The mutation resolves in the client only once a transition reaches its ts.
                self.must_send = true;
                self.rerun = true;
                Ok(vec![response])
            }
            ClientMessage::Action { request_id, udf_path } => Ok(vec![ServerMessage::ActionResponse {
                request_id,
                success: false,
                result: Json::String(format!(
                    "Could not find public function for '{}'. Did you forget to run `npx convex dev` or `npx convex deploy`?",
                    functions::canonicalize(&udf_path)
                )),
                log_lines: vec![],
            }]),
            ClientMessage::Event {} => Ok(vec![]),
        }
    }

    async fn authenticate(
        &mut self,
        token_type: &str,
        value: Option<&str>,
        base_version: u32,
    ) -> Result<Vec<ServerMessage>, End> {
        let stats = self.app.stats();
        let identity = match token_type {
            "User" => {
                stats.authenticate_user.fetch_add(1, Ordering::Relaxed);
                let token = value.unwrap_or_default();
                match self.app.verifier().verify(token, SystemTime::now()).await {
                    Ok(identity) => Some(identity),
                    Err(e) => return Err(self.auth_error(&e, true)),
                }
            }
            "None" => {
                stats.authenticate_none.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                return Err(End::Auth(ServerMessage::AuthError {
                    error: "Invalid admin key".into(),
                    base_version: self.current.identity,
                    auth_update_attempted: true,
                }));
            }
        };
        if base_version != self.received_identity {
            return Err(End::Protocol(format!(
                "Base version {base_version} passed up doesn't match the current identity version {}",
                self.received_identity
            )));
        }
        if let Some(identity) = &identity {
            tracing::info!(subject = identity.subject(), exp = identity.expires_at(), "authenticated");
        }
        self.identity = identity;
        self.received_identity = base_version + 1;
        // A transition confirms the identity to the client, even if no query changed.
        self.must_send = true;
        self.rerun = true;
        Ok(vec![])
    }

    fn auth_error(&self, e: &VerifyError, attempted: bool) -> End {
        tracing::warn!(code = %e.code(), message = e.message(), diagnosis = %e.diagnosis(), attempted, "auth error");
        End::Auth(ServerMessage::AuthError {
            error: e.message().to_owned(),
            base_version: self.current.identity,
            auth_update_attempted: attempted,
        })
    }

    /// The identity, re-checked against its `exp` as Convex's `SyncState::identity` does.
    fn checked_identity(&self) -> Result<Option<&UserIdentity>, End> {
        match &self.identity {
            Some(identity) => match self.app.verifier().check_still_valid(identity, SystemTime::now()) {
                Ok(()) => Ok(Some(identity)),
                Err(e) => Err(self.auth_error(&e, false)),
            },
            None => Ok(None),
        }
    }

    /// Computes the next transition, if one is due.
    async fn transition(&mut self) -> Result<Option<ServerMessage>, End> {
        if !self.must_send && !self.rerun {
            return Ok(None);
        }
        let identity = self.checked_identity()?.cloned();
        // Read the clock before the data: the transition never claims a timestamp whose writes it lacks.
        let ts = self.app.storage().clock().current().max(self.current.ts);
        let mut modifications: Vec<StateModification> =
            self.removed.drain(..).map(|query_id| StateModification::QueryRemoved { query_id }).collect();
        let storage = self.app.storage().clone();
        for (&query_id, query) in &mut self.queries {
            let result = functions::call(&storage, Kind::Query, &query.udf_path, &query.args, identity.as_ref())
                .await
                .map(|outcome| outcome.value.to_convex_json())
                .map_err(|e| e.0);
            if query.last_sent.as_ref() == Some(&result) {
                continue;
            }
            modifications.push(match &result {
                Ok(value) => {
                    StateModification::QueryUpdated { query_id, value: value.clone(), log_lines: vec![], journal: None }
                }
                Err(message) => StateModification::QueryFailed {
                    query_id,
                    error_message: message.clone(),
                    log_lines: vec![],
                    journal: None,
                },
            });
            query.last_sent = Some(result);
        }
        modifications.sort_by_key(|m| match m {
            StateModification::QueryUpdated { query_id, .. }
            | StateModification::QueryFailed { query_id, .. }
            | StateModification::QueryRemoved { query_id } => *query_id,
        });
        let end = StateVersion { query_set: self.received_query_set, identity: self.received_identity, ts };
        let must_send = self.must_send;
        self.must_send = false;
        self.rerun = false;
        if !must_send
            && modifications.is_empty()
            && end.query_set == self.current.query_set
            && end.identity == self.current.identity
        {
            return Ok(None);
        }
        let start = self.current;
        self.current = end;
        Ok(Some(ServerMessage::Transition {
            start_version: start,
            end_version: end,
            modifications,
            client_clock_skew: self.client_clock_skew,
            // The send time: the client logs `now − clientClockSkew − serverTs` as the transit time.
            server_ts: Some(now_nanos()),
        }))
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
