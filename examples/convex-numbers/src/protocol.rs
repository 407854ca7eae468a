//! The WebSocket sync protocol's messages, as `convex-js:src/browser/sync/protocol.ts` and Convex's
//! `sync_types/src/types/json.rs` define them (spec `convex-auth.md` §5.2).
//!
//! Timestamps travel as base64 of the u64's little-endian bytes; values as Convex-encoded JSON.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// Encodes a timestamp as Convex does (`u64_to_string`): base64 of the little-endian bytes.
pub fn encode_ts(ts: u64) -> String {
    STANDARD.encode(ts.to_le_bytes())
}

/// Decodes a timestamp written by [`encode_ts`] (or by the client's `longToU64`).
pub fn decode_ts(text: &str) -> Option<u64> {
    let bytes: [u8; 8] = STANDARD.decode(text).ok()?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum ClientMessage {
    /// The first message on every socket.
    #[serde(rename_all = "camelCase")]
    Connect {
        /// A UUID for the browser tab's client.
        session_id: String,
        /// How many sockets this client opened before.
        #[serde(default)]
        connection_count: u32,
        /// Why the previous socket closed (`"InitialConnect"` at first).
        #[serde(default)]
        last_close_reason: Option<String>,
        /// The client's monotonic clock in ms.
        #[serde(default)]
        client_ts: Option<f64>,
        /// The highest `ts` the client has seen, encoded.
        #[serde(default)]
        max_observed_timestamp: Option<String>,
    },
    /// Adds or removes subscribed queries; `base_version` must be the last `new_version` received.
    #[serde(rename_all = "camelCase")]
    ModifyQuerySet {
        /// The query-set version this change applies to.
        base_version: u32,
        /// The version after it.
        new_version: u32,
        /// The changes.
        modifications: Vec<QuerySetModification>,
    },
    /// Sets the identity (`tokenType` `User` with a JWT, `None`, or `Admin`).
    #[serde(rename_all = "camelCase")]
    Authenticate {
        /// `User`, `None` or `Admin`.
        token_type: String,
        /// The JWT (or admin key); absent for `None`.
        #[serde(default)]
        value: Option<String>,
        /// The client's identity version before this message.
        base_version: u32,
    },
    /// Runs a mutation.
    #[serde(rename_all = "camelCase")]
    Mutation {
        /// The client's id for this request.
        request_id: u32,
        /// `module:function`.
        udf_path: String,
        /// A one-element array with the arguments object, Convex-encoded.
        args: Json,
        /// Set only for component functions.
        #[serde(default)]
        component_path: Option<String>,
    },
    /// Runs an action (not offered by this backend).
    #[serde(rename_all = "camelCase")]
    Action {
        /// The client's id for this request.
        request_id: u32,
        /// `module:function`.
        udf_path: String,
    },
    /// Client telemetry; ignored.
    Event {},
}

/// One change to the query set.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum QuerySetModification {
    /// Subscribes to a query.
    #[serde(rename_all = "camelCase")]
    Add {
        /// The client's id for this subscription.
        query_id: u32,
        /// `module:function`.
        udf_path: String,
        /// A one-element array with the arguments object, Convex-encoded.
        args: Json,
        /// Set only for component functions.
        #[serde(default)]
        component_path: Option<String>,
    },
    /// Unsubscribes.
    #[serde(rename_all = "camelCase")]
    Remove {
        /// The subscription to drop.
        query_id: u32,
    },
}

/// The version a transition starts from or ends at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateVersion {
    /// The query-set version.
    pub query_set: u32,
    /// The identity version.
    pub identity: u32,
    /// The data timestamp.
    pub ts: u64,
}

impl Serialize for StateVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("StateVersion", 3)?;
        s.serialize_field("querySet", &self.query_set)?;
        s.serialize_field("identity", &self.identity)?;
        s.serialize_field("ts", &encode_ts(self.ts))?;
        s.end()
    }
}

/// One query's change inside a `Transition`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum StateModification {
    /// A new result.
    #[serde(rename_all = "camelCase")]
    QueryUpdated {
        /// The subscription.
        query_id: u32,
        /// The result, Convex-encoded.
        value: Json,
        /// Console output of the run.
        log_lines: Vec<String>,
        /// Pagination journal (always null here).
        journal: Option<String>,
    },
    /// The query threw.
    #[serde(rename_all = "camelCase")]
    QueryFailed {
        /// The subscription.
        query_id: u32,
        /// The error message.
        error_message: String,
        /// Console output of the run.
        log_lines: Vec<String>,
        /// Pagination journal (always null here).
        journal: Option<String>,
    },
    /// The subscription was removed.
    #[serde(rename_all = "camelCase")]
    QueryRemoved {
        /// The subscription.
        query_id: u32,
    },
}

/// A message to the client.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum ServerMessage {
    /// Moves the client from `start_version` to `end_version`.
    #[serde(rename_all = "camelCase")]
    Transition {
        /// Must equal the client's current version exactly.
        start_version: StateVersion,
        /// The new version.
        end_version: StateVersion,
        /// Changed, failed and removed queries.
        modifications: Vec<StateModification>,
        /// `clientTs − server now` in ms, from `Connect`.
        client_clock_skew: Option<i64>,
        /// The server's send time in ns since 1970 (the client uses it to log slow transitions).
        server_ts: Option<u64>,
    },
    /// A mutation's outcome. Successful ones resolve once a transition reaches `ts`.
    #[serde(rename_all = "camelCase")]
    MutationResponse {
        /// The client's request id.
        request_id: u32,
        /// Whether the mutation committed.
        success: bool,
        /// The return value (Convex-encoded), or the error message.
        result: Json,
        /// The commit timestamp (successes only).
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_opt_ts")]
        ts: Option<u64>,
        /// Console output of the run.
        log_lines: Vec<String>,
    },
    /// An action's outcome.
    #[serde(rename_all = "camelCase")]
    ActionResponse {
        /// The client's request id.
        request_id: u32,
        /// Whether the action succeeded.
        success: bool,
        /// The return value, or the error message.
        result: Json,
        /// Console output of the run.
        log_lines: Vec<String>,
    },
    /// The identity was rejected (`authUpdateAttempted: true`) or has expired (`false`); the socket closes next.
    #[serde(rename_all = "camelCase")]
    AuthError {
        /// Convex's message, e.g. "Convex token identity expired".
        error: String,
        /// The identity version of the last state sent.
        base_version: u32,
        /// Whether this answers an `Authenticate`.
        auth_update_attempted: bool,
    },
    /// A deterministic client error; the client gives up.
    FatalError {
        /// The message.
        error: String,
    },
    /// Sent after 15 s without other messages.
    Ping,
}

fn ser_opt_ts<S: serde::Serializer>(ts: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(ts) => serializer.serialize_str(&encode_ts(*ts)),
        None => serializer.serialize_none(),
    }
}

impl ServerMessage {
    /// The JSON text sent on the socket.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_are_base64_little_endian() {
        assert_eq!(encode_ts(0), "AAAAAAAAAAA=");
        assert_eq!(encode_ts(1), "AQAAAAAAAAA=");
        let ts = 1_764_000_000_123_456_789;
        assert_eq!(decode_ts(&encode_ts(ts)), Some(ts));
        assert_eq!(decode_ts("AQ=="), None);
    }

    #[test]
    fn parses_the_clients_messages() {
        // As convex 1.49 sends them (local_state.js, client.js).
        let connect = r#"{"connectionCount":0,"lastCloseReason":"InitialConnect","clientTs":1764000000000,"type":"Connect","sessionId":"9f0a","maxObservedTimestamp":null}"#;
        assert!(matches!(serde_json::from_str(connect).unwrap(), ClientMessage::Connect { connection_count: 0, .. }));
        let auth = r#"{"type":"Authenticate","baseVersion":0,"tokenType":"User","value":"a.b.c"}"#;
        let ClientMessage::Authenticate { token_type, value, base_version } = serde_json::from_str(auth).unwrap()
        else {
            panic!()
        };
        assert_eq!((token_type.as_str(), value.as_deref(), base_version), ("User", Some("a.b.c"), 0));
        let none = r#"{"type":"Authenticate","tokenType":"None","baseVersion":1}"#;
        assert!(matches!(
            serde_json::from_str(none).unwrap(),
            ClientMessage::Authenticate { value: None, base_version: 1, .. }
        ));
        let mqs = r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"myFunctions:listNumbers","args":[{"count":10}]},{"type":"Remove","queryId":3}]}"#;
        let ClientMessage::ModifyQuerySet { modifications, .. } = serde_json::from_str(mqs).unwrap() else { panic!() };
        assert!(
            matches!(&modifications[0], QuerySetModification::Add { query_id: 0, udf_path, .. } if udf_path == "myFunctions:listNumbers")
        );
        assert!(matches!(modifications[1], QuerySetModification::Remove { query_id: 3 }));
        let mutation = r#"{"type":"Mutation","requestId":0,"udfPath":"myFunctions:addNumber","args":[{"value":7}]}"#;
        assert!(matches!(serde_json::from_str(mutation).unwrap(), ClientMessage::Mutation { request_id: 0, .. }));
        let event = r#"{"type":"Event","eventType":"ClientConnect","event":{"marks":[]}}"#;
        assert!(matches!(serde_json::from_str(event).unwrap(), ClientMessage::Event {}));
    }

    #[test]
    fn encodes_the_servers_messages() {
        let t = ServerMessage::Transition {
            start_version: StateVersion::default(),
            end_version: StateVersion { query_set: 1, identity: 1, ts: 1 },
            modifications: vec![StateModification::QueryUpdated {
                query_id: 0,
                value: json!({"viewer": null, "numbers": []}),
                log_lines: vec![],
                journal: None,
            }],
            client_clock_skew: Some(-3),
            server_ts: None,
        };
        assert_eq!(
            serde_json::from_str::<Json>(&t.to_text()).unwrap(),
            json!({"type":"Transition",
                   "startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},
                   "endVersion":{"querySet":1,"identity":1,"ts":"AQAAAAAAAAA="},
                   "modifications":[{"type":"QueryUpdated","queryId":0,"value":{"viewer":null,"numbers":[]},"logLines":[],"journal":null}],
                   "clientClockSkew":-3,"serverTs":null})
        );
        let ok = ServerMessage::MutationResponse {
            request_id: 2,
            success: true,
            result: Json::Null,
            ts: Some(1),
            log_lines: vec![],
        };
        assert_eq!(
            serde_json::from_str::<Json>(&ok.to_text()).unwrap(),
            json!({"type":"MutationResponse","requestId":2,"success":true,"result":null,"ts":"AQAAAAAAAAA=","logLines":[]})
        );
        let failed = ServerMessage::MutationResponse {
            request_id: 3,
            success: false,
            result: json!("boom"),
            ts: None,
            log_lines: vec![],
        };
        assert_eq!(
            serde_json::from_str::<Json>(&failed.to_text()).unwrap(),
            json!({"type":"MutationResponse","requestId":3,"success":false,"result":"boom","logLines":[]})
        );
        let auth = ServerMessage::AuthError {
            error: "Convex token identity expired".into(),
            base_version: 1,
            auth_update_attempted: false,
        };
        assert_eq!(
            serde_json::from_str::<Json>(&auth.to_text()).unwrap(),
            json!({"type":"AuthError","error":"Convex token identity expired","baseVersion":1,"authUpdateAttempted":false})
        );
        assert_eq!(ServerMessage::Ping.to_text(), r#"{"type":"Ping"}"#);
        let removed = StateModification::QueryRemoved { query_id: 4 };
        assert_eq!(serde_json::to_value(removed).unwrap(), json!({"type":"QueryRemoved","queryId":4}));
    }
}
