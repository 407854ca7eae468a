//! A tiny DNS server for the tests: answers TXT queries over UDP on 127.0.0.1 from a table the
//! test fills (`set_txt`), NXDOMAIN for names it has nothing for. Queries are parsed and answers
//! written with hickory-proto (the resolver's own message codec).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};

#[derive(Clone)]
pub struct DnsServer {
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl DnsServer {
    pub async fn start() -> DnsServer {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let table = records.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else { return };
                let Ok(request) = Message::from_vec(&buf[..n]) else { continue };
                let mut response = Message::response(request.metadata.id, request.metadata.op_code);
                response.metadata.recursion_desired = request.metadata.recursion_desired;
                response.metadata.recursion_available = true;
                response.metadata.authoritative = true;
                let mut found = false;
                for q in &request.queries {
                    response.add_query(q.clone());
                    let name = q.name().to_string().trim_end_matches('.').to_ascii_lowercase();
                    let values = table.lock().unwrap().get(&name).cloned();
                    if let Some(values) = values {
                        found = true;
                        if q.query_type() == RecordType::TXT {
                            for v in values {
                                response.add_answer(Record::from_rdata(
                                    q.name().clone(),
                                    60,
                                    RData::TXT(TXT::new(vec![v])),
                                ));
                            }
                        }
                    }
                }
                if !found {
                    response.metadata.response_code = ResponseCode::NXDomain;
                }
                if let Ok(bytes) = response.to_vec() {
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        DnsServer { addr, records }
    }

    /// Publishes TXT records at `name` (replacing any).
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        self.records.lock().unwrap().insert(name.to_ascii_lowercase(), values.iter().map(|v| v.to_string()).collect());
    }
}
