//! Periodic jobs of a node: clearing dead nodes' rows (the janitor), releasing rooms
//! assigned here that no one entered, checking the shared storage, and purging
//! expired sessions, tokens, login failures and old events.

use crate::files::Shared;
use crate::server::AppState;
use std::time::Duration;

const JANITOR_EVERY: Duration = Duration::from_secs(1);
const STORAGE_CHECK_EVERY: u64 = 5;
/// Events are kept this long; every live node has applied them by then.
const EVENT_RETENTION_MS: i64 = 10 * 60 * 1000;

pub fn spawn(state: AppState) {
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(JANITOR_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let cleanup_every = state.config.cleanup_interval.as_secs().max(1);
        let mut n: u64 = 0;
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            n += 1;
            clear_dead_nodes(&state).await;
            if n % STORAGE_CHECK_EVERY == 0 {
                release_unused_rooms(&state).await;
                check_storage(&state).await;
            }
            if n % cleanup_every == 0 {
                purge(&state).await;
            }
        }
    });
}

/// One surviving node (elected by a database lock) removes a dead node's rows, so its
/// rooms can be placed again and its participants stop being counted.
async fn clear_dead_nodes(state: &AppState) {
    match state.store.clear_dead_nodes().await {
        Ok(cleared) => {
            for (node, connections) in cleared {
                tracing::warn!(dead = %node, connections, "cleared the rooms and connections of a dead node");
            }
        }
        Err(e) => tracing::warn!(error = %e, "janitor failed"),
    }
}

/// Rooms placed here by `enter` whose participants never arrived.
async fn release_unused_rooms(state: &AppState) {
    let grace = state.config.room_grace.as_millis() as i64;
    let Ok(rooms) = state
        .store
        .node_room_hosts(state.node.id, grace.max(5_000))
        .await
    else {
        return;
    };
    for room in rooms {
        if state.rooms.get(room).is_none() {
            let _ = state.store.release_room_host(room, state.node.id).await;
        }
    }
}

/// Checks the shared storage and records the result for Administration → Servers.
pub async fn check_storage(state: &AppState) {
    let status = storage_status(state).await;
    if status != "ok" {
        tracing::warn!(status = %status, "shared storage problem");
    }
    let _ = state.store.set_storage_status(state.node.id, &status).await;
}

/// Writable from here, and the storage the cluster shares (its id matches)?
async fn storage_status(state: &AppState) -> String {
    let mut problems = Vec::new();
    if let Err(e) = state
        .storage
        .write_probe(state.node.id, &state.node.instance)
        .await
    {
        problems.push(format!("cannot write: {e}"));
    }
    match state.storage.check_shared(&state.store).await {
        Ok(Shared::Verified) => {}
        // The claim at start failed (and was withdrawn): try again.
        Ok(Shared::Unclaimed) => match state.storage.claim_cluster_id(&state.store).await {
            Ok(()) => {
                if let Err(e) = state.storage.check_shared(&state.store).await {
                    problems.push(e);
                }
            }
            Err(e) => problems.push(format!("cannot claim the shared storage: {e}")),
        },
        Err(e) => problems.push(e),
    }
    if problems.is_empty() {
        "ok".into()
    } else {
        problems.join("; ")
    }
}

async fn purge(state: &AppState) {
    let store = &state.store;
    let result = async {
        let sessions = store.purge_expired_sessions().await?;
        let tokens = store.purge_expired_entry_tokens().await?;
        let failures = store.purge_login_failures().await?;
        let events = store.purge_events(EVENT_RETENTION_MS).await?;
        Ok::<_, sqlx::Error>(sessions + tokens + failures + events)
    }
    .await;
    match result {
        Ok(n) if n > 0 => tracing::debug!(rows = n, "purged expired rows"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "purge failed"),
    }
}
