//! DNS TXT look-ups for organization domain verification (hickory-resolver over UDP, falling
//! back to TCP): the system's resolvers, or the one server `--dns-server` names (tests run a
//! local one). A resolver is built for each look-up, so nothing is cached: a record added
//! after a failed check is seen by the next one.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use crate::domain::organization::TxtLookup;

/// How long one look-up may take in all.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

fn options() -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.timeout = Duration::from_secs(3);
    options.attempts = 2;
    options.cache_size = 0;
    options
}

/// The TXT records at `name` (a fully qualified name, without the final dot).
pub async fn lookup_txt(server: Option<SocketAddr>, name: &str) -> TxtLookup {
    let resolver = match server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            let config = ResolverConfig::from_parts(None, Vec::new(), vec![ns]);
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default()).with_options(options()).build()
        }
        None => match TokioResolver::builder_tokio() {
            Ok(builder) => builder.with_options(options()).build(),
            Err(e) => return TxtLookup::Failed(format!("cannot read the system's DNS configuration: {e}")),
        },
    };
    let resolver = match resolver {
        Ok(r) => r,
        Err(e) => return TxtLookup::Failed(format!("cannot set up the DNS resolver: {e}")),
    };
    let fqdn = format!("{name}.");
    match tokio::time::timeout(LOOKUP_TIMEOUT, resolver.txt_lookup(fqdn.as_str())).await {
        Err(_) => TxtLookup::Failed("the DNS server did not answer in time".to_owned()),
        Ok(Err(e)) if e.is_no_records_found() || e.is_nx_domain() => TxtLookup::NoRecords,
        Ok(Err(e)) => TxtLookup::Failed(e.to_string()),
        Ok(Ok(lookup)) => {
            let records: Vec<String> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => {
                        Some(txt.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect::<String>())
                    }
                    _ => None,
                })
                .collect();
            if records.is_empty() { TxtLookup::NoRecords } else { TxtLookup::Records(records) }
        }
    }
}
