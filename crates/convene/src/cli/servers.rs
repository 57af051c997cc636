//! `convene server …`: the cluster's servers, on the shared database. Changes that a
//! running node must act on go through the event table, as from the API.

use super::ServerAction;
use crate::cluster::drain::MAX_DEADLINE_SECS;
use crate::cluster::events::{Event, publish_with};
use crate::config::Config;
use crate::ids::NodeId;
use crate::store::{NODE_IDS, ServerRow, ServerWrite, Store};

pub async fn run(config: Config, action: ServerAction) -> anyhow::Result<()> {
    let store = Store::open(&config.database_url).await?;
    let result = act(&store, action).await;
    store.close().await;
    result
}

fn write_of(s: &ServerRow) -> ServerWrite {
    ServerWrite {
        name: s.name.clone(),
        address: s.address.clone(),
        http_port: s.http_port,
        protocol: s.protocol.clone(),
        base_path: s.base_path.clone(),
        weight: s.weight,
        comment: s.comment.clone(),
        active: s.active,
    }
}

async fn existing(store: &Store, id: i64) -> anyhow::Result<ServerRow> {
    store
        .server(NodeId(id))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no server {id}"))
}

/// The API's rule (see [`ServerWrite::checked`]).
fn checked(w: ServerWrite) -> anyhow::Result<ServerWrite> {
    w.checked().map_err(|e| anyhow::anyhow!(e))
}

async fn set_active(store: &Store, id: i64, active: bool) -> anyhow::Result<()> {
    let mut w = write_of(&existing(store, id).await?);
    w.active = active;
    store.update_server(NodeId(id), &w).await?;
    publish_with(
        store,
        &Event::ServerChanged {
            server: NodeId(id),
            active,
        },
    )
    .await?;
    println!(
        "server {id} {}",
        if active { "activated" } else { "deactivated" }
    );
    Ok(())
}

async fn act(store: &Store, action: ServerAction) -> anyhow::Result<()> {
    match action {
        ServerAction::List => {
            let stats = store.server_stats().await?;
            println!(
                "{:>4}  {:<16} {:<9} {:>9} {:>6} {:>12}  {:<30} storage",
                "id", "name", "status", "heartbeat", "rooms", "participants", "url"
            );
            for s in store.list_servers().await? {
                let st = stats.get(&s.id).copied().unwrap_or_default();
                let age = s
                    .heartbeat_age_ms
                    .map(|a| format!("{:.1}s", a as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:>4}  {:<16} {:<9} {:>9} {:>6} {:>12}  {:<30} {}",
                    s.id.0,
                    s.name,
                    s.status(),
                    age,
                    st.rooms,
                    st.participants,
                    s.url,
                    if s.storage_status.is_empty() {
                        "-"
                    } else {
                        &s.storage_status
                    }
                );
            }
        }
        ServerAction::Add {
            id,
            name,
            address,
            http_port,
            protocol,
            base_path,
            weight,
            comment,
        } => {
            if !NODE_IDS.contains(&id) {
                anyhow::bail!(
                    "the id must be between {} and {}",
                    NODE_IDS.start(),
                    NODE_IDS.end()
                );
            }
            let w = ServerWrite {
                name: name.unwrap_or_else(|| format!("node-{id}")),
                address,
                http_port,
                protocol,
                base_path,
                weight,
                comment,
                active: true,
            };
            let w = checked(w)?;
            match store.add_server(NodeId(id), &w).await? {
                Some(s) => println!("added server {id} ({}) at {}", s.name, s.url),
                None => anyhow::bail!("server {id} exists"),
            }
        }
        ServerAction::Update {
            id,
            name,
            address,
            http_port,
            protocol,
            base_path,
            weight,
            comment,
        } => {
            let mut w = write_of(&existing(store, id).await?);
            w.name = name.unwrap_or(w.name);
            w.address = address.unwrap_or(w.address);
            w.http_port = http_port.unwrap_or(w.http_port);
            w.protocol = protocol.unwrap_or(w.protocol);
            w.base_path = base_path.unwrap_or(w.base_path);
            w.weight = weight.unwrap_or(w.weight);
            w.comment = comment.unwrap_or(w.comment);
            let w = checked(w)?;
            let s = store.update_server(NodeId(id), &w).await?;
            println!(
                "updated server {id} ({})",
                s.map(|s| s.url).unwrap_or_default()
            );
        }
        ServerAction::Activate { id } => set_active(store, id, true).await?,
        ServerAction::Deactivate { id } => set_active(store, id, false).await?,
        ServerAction::Drain {
            id,
            deadline_seconds,
        } => {
            if deadline_seconds > MAX_DEADLINE_SECS {
                anyhow::bail!("the deadline must be at most {MAX_DEADLINE_SECS} seconds");
            }
            existing(store, id).await?;
            let deadline_ms = deadline_seconds as i64 * 1000;
            store.start_drain(NodeId(id), deadline_ms).await?;
            publish_with(
                store,
                &Event::Drain {
                    server: NodeId(id),
                    deadline_ms,
                },
            )
            .await?;
            println!("server {id} is draining; its participants move within {deadline_seconds} s");
        }
    }
    Ok(())
}
