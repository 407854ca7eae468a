//! A minimal HTTP/1.1 keep-alive client for the refresh loops.
//!
//! The load generator runs on the same cores as the server, so every microsecond it spends is
//! taken from the server being measured. reqwest costs ~30 µs of CPU per request here (pooling,
//! header maps, body streams); this client writes one prepared request on a persistent
//! connection and reads one response, a few µs. It speaks only what the refresh loops need: a
//! POST with a JSON body, answered with a `Content-Length` body (axum's JSON responses always
//! have one). Anything else is reported as an error, never guessed at.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::Res;

/// One persistent connection; one request in flight at a time.
pub struct Connection {
    stream: TcpStream,
    host: String,
    request: Vec<u8>,
    response: Vec<u8>,
}

/// A response: status and body.
pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

impl Connection {
    /// Connects to `host` (`127.0.0.1:PORT`).
    pub async fn open(host: &str) -> Res<Connection> {
        let stream = TcpStream::connect(host).await.map_err(|e| format!("cannot connect to {host}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Connection {
            stream,
            host: host.to_owned(),
            request: Vec::with_capacity(512),
            response: Vec::with_capacity(4096),
        })
    }

    /// Sends `POST path` with a JSON body and reads the whole response.
    pub async fn post_json(&mut self, path: &str, body: &str) -> Res<Response<'_>> {
        self.request.clear();
        self.request.extend_from_slice(
            format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                self.host,
                body.len()
            )
            .as_bytes(),
        );
        self.request.extend_from_slice(body.as_bytes());
        self.stream.write_all(&self.request).await.map_err(|e| format!("sending: {e}"))?;

        self.response.clear();
        let header_end = loop {
            if let Some(i) = find(&self.response, b"\r\n\r\n") {
                break i + 4;
            }
            self.read_more().await?;
        };
        let head = std::str::from_utf8(&self.response[..header_end]).map_err(|_| "response head is not UTF-8")?;
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("not an HTTP/1.1 status line: {:?}", head.lines().next()))?;
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
            })
            .ok_or("the response has no Content-Length")?;
        while self.response.len() < header_end + length {
            self.read_more().await?;
        }
        if self.response.len() > header_end + length {
            return Err("the server sent more than one response".into());
        }
        Ok(Response { status, body: &self.response[header_end..] })
    }

    async fn read_more(&mut self) -> Res<()> {
        self.response.reserve(4096);
        let n = self.stream.read_buf(&mut self.response).await.map_err(|e| format!("receiving: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        Ok(())
    }
}

/// The value of a top-level string field in compact JSON (no escapes in the value), as the
/// server writes it: `"key":"value"`. `None` when absent.
pub fn string_field<'a>(json: &'a [u8], key: &str) -> Option<&'a str> {
    let pattern = format!("\"{key}\":\"");
    let start = find(json, pattern.as_bytes())? + pattern.len();
    let len = json[start..].iter().position(|&b| b == b'"' || b == b'\\')?;
    if json[start + len] == b'\\' {
        return None;
    }
    std::str::from_utf8(&json[start..start + len]).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_string_field() {
        let body = br#"{"access_token":"a.b.c","refresh_token":"abc_DEF-123","user":{"id":"user_1"}}"#;
        assert_eq!(string_field(body, "refresh_token"), Some("abc_DEF-123"));
        assert_eq!(string_field(body, "missing"), None);
        assert_eq!(string_field(br#"{"refresh_token":"a\"b"}"#, "refresh_token"), None);
    }

    #[tokio::test]
    async fn talks_to_a_keep_alive_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            for i in 0..2 {
                let mut seen = Vec::new();
                while find(&seen, b"{}").is_none() {
                    let mut chunk = [0u8; 256];
                    let n = socket.read(&mut chunk).await.unwrap();
                    seen.extend_from_slice(&chunk[..n]);
                }
                assert!(seen.starts_with(b"POST /x HTTP/1.1\r\n"));
                let body = format!("{{\"n\":\"{i}\"}}");
                // The body arrives in a second write, as a slow server would send it.
                let head = format!("HTTP/1.1 201 Created\r\ncontent-length: {}\r\n\r\n", body.len());
                socket.write_all(head.as_bytes()).await.unwrap();
                socket.write_all(body.as_bytes()).await.unwrap();
            }
        });
        let mut conn = Connection::open(&addr).await.unwrap();
        for i in 0..2 {
            let response = conn.post_json("/x", "{}").await.unwrap();
            assert_eq!(response.status, 201);
            assert_eq!(string_field(response.body, "n"), Some(i.to_string().as_str()));
        }
    }
}
