//! `convene check`: what an operator needs to know before or while running a node.

use crate::config::Config;
use crate::files::{Shared, SharedStorage};
use crate::ids::NodeId;
use crate::store::{Store, latest_version};

/// Prints one line per check; fails if any check fails.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let mut failures = 0;
    let store = match Store::open(&config.database_url).await {
        Ok(s) => {
            println!(
                "ok    database reachable and migrated to schema {} ({})",
                latest_version(),
                crate::store::redact_url(&config.database_url)
            );
            s
        }
        Err(e) => {
            println!("FAIL  database: {e:#}");
            anyhow::bail!("1 check failed");
        }
    };

    let me = NodeId(config.node_id);
    let mine = config
        .public_url
        .clone()
        .unwrap_or_else(|| crate::server::default_public_url(config.listen, config.tls.is_some()));
    match store.server(me).await? {
        // `check` on the machine of a healthy node, with its settings: that node is us.
        Some(s) if s.alive() && s.url == mine && listen_in_use(&config) => println!(
            "ok    node id {me} is this node's: it is running at {} (heartbeat {} ms ago)",
            s.url,
            s.heartbeat_age_ms.unwrap_or(0)
        ),
        Some(s) if s.alive() => {
            failures += 1;
            println!(
                "FAIL  node id {me} is in use by a running node ({}, heartbeat {} ms ago), \
                 not one with these settings ({mine} on {}): give this node another `node_id`",
                s.url,
                s.heartbeat_age_ms.unwrap_or(0),
                config.listen
            );
        }
        _ => println!("ok    node id {me} is free"),
    }

    match SharedStorage::open(&config.storage) {
        Ok(storage) => {
            let probe = format!("probes/check-{}", crate::secret::random_hex(8));
            let mut problems = Vec::new();
            let mut leftover = None;
            match storage.put(&probe, b"check".to_vec()).await {
                Ok(()) => {
                    if let Err(e) = storage.delete(&probe).await {
                        leftover = Some(format!(
                            "warn  shared storage: cannot remove the test file {probe}: {e}"
                        ));
                    }
                }
                Err(e) => problems.push(format!("cannot write: {e}")),
            }
            let shared = match storage.check_shared(&store).await {
                Ok(shared) => Some(shared),
                Err(e) => {
                    problems.push(e);
                    None
                }
            };
            match shared {
                _ if !problems.is_empty() => {
                    failures += 1;
                    println!(
                        "FAIL  shared storage {}: {}",
                        storage.description,
                        problems.join("; ")
                    );
                }
                Some(Shared::Unclaimed) => println!(
                    "ok    shared storage {} is writable (not yet claimed: the first node to start claims it)",
                    storage.description
                ),
                _ => println!(
                    "ok    shared storage {} is writable and is the cluster's",
                    storage.description
                ),
            }
            if let Some(line) = leftover {
                println!("{line}");
            }
            for s in store.list_servers().await?.iter().filter(|s| s.alive()) {
                if !s.storage_status.is_empty() && s.storage_status != "ok" {
                    println!(
                        "warn  node {} reports its storage: {}",
                        s.id, s.storage_status
                    );
                }
            }
        }
        Err(e) => {
            failures += 1;
            println!("FAIL  shared storage: {e:#}");
        }
    }

    let db_now = store.now_ms().await?;
    let skew_ms = chrono::Utc::now().timestamp_millis() - db_now;
    let note = if skew_ms.abs() > 2_000 {
        "(harmless: Convene uses only the database clock, but logs will disagree)"
    } else {
        ""
    };
    println!("ok    clock skew against the database: {skew_ms} ms {note}");
    store.close().await;
    if failures > 0 {
        anyhow::bail!("{failures} check(s) failed");
    }
    Ok(())
}

/// Whether something on this machine listens on the address of `listen` already
/// (a node with these settings, presumably): binding it fails then.
fn listen_in_use(config: &Config) -> bool {
    config.listen.port() != 0
        && matches!(
            std::net::TcpListener::bind(config.listen),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse
        )
}
