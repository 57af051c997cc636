//! Periodic jobs of a node: clearing dead nodes' rows (the janitor), releasing rooms
//! assigned here that no one entered, checking the shared storage, and purging
//! expired sessions, tokens, login failures, old events and invitations, guests
//! whose invitation ended, and deleted files.

use crate::cluster::ClusterContext;
use crate::files::Shared;
use std::time::Duration;

const JANITOR_EVERY: Duration = Duration::from_secs(1);
const STORAGE_CHECK_EVERY: u64 = 5;
/// After a fence ends, how long closed rooms keep their assignment without anyone in them.
const REJOIN_WINDOW: Duration = Duration::from_secs(30);
/// Events are kept this long; every live node has applied them by then.
const EVENT_RETENTION_MS: i64 = 10 * 60 * 1000;
/// Expired invitations are still listed (and their links say "expired") this long.
const INVITATION_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

pub fn spawn(state: ClusterContext) {
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(JANITOR_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let cleanup_every = state.cleanup_interval.as_secs().max(1);
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

/// One surviving node (elected by a database lock) declares dead the nodes whose lease
/// ran out and removes their rows, so their rooms can be placed again and their
/// participants stop being counted. Only a node that has itself renewed without a break
/// for a while judges: after a database outage everyone's lease looks expired.
async fn clear_dead_nodes(state: &ClusterContext) {
    if !state.lease.may_judge() || !state.lease.is_valid() {
        return;
    }
    match state.store.declare_dead_nodes(state.node.id).await {
        Ok(cleared) => {
            for (node, connections) in cleared {
                state
                    .lease
                    .counters
                    .evictions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(dead = %node, connections, "declared a node dead: its lease ran out; cleared its rooms and connections");
            }
        }
        Err(e) => tracing::warn!(error = %e, "janitor failed"),
    }
}

/// Rooms placed here by `enter` whose participants never arrived. Not right after a
/// fence: the rooms it closed keep their assignment while their people come back.
async fn release_unused_rooms(state: &ClusterContext) {
    let grace = state.room_grace.as_millis() as i64;
    if state.lease.serving_for() < REJOIN_WINDOW {
        return;
    }
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
pub async fn check_storage(state: &ClusterContext) {
    let status = storage_status(state).await;
    if status != "ok" {
        tracing::warn!(status = %status, "shared storage problem");
    }
    let _ = state.store.set_storage_status(state.node.id, &status).await;
}

/// Writable from here, and the storage the cluster shares (its id matches)?
async fn storage_status(state: &ClusterContext) -> String {
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

async fn purge(state: &ClusterContext) {
    let store = &state.store;
    let result = async {
        let sessions = store.purge_expired_sessions().await?;
        let tokens = store.purge_expired_entry_tokens().await?;
        let failures = store.purge_login_failures().await?;
        let events = store.purge_events(EVENT_RETENTION_MS).await?;
        let invitations = store.purge_old_invitations(INVITATION_RETENTION_MS).await?;
        Ok::<_, sqlx::Error>(sessions + tokens + failures + events + invitations)
    }
    .await;
    // Guests go with their invitation: their accounts, sessions and connection rows;
    // whoever of them is still in a room is closed there.
    match store.purge_expired_guests().await {
        Ok(guests) => {
            for user in guests {
                let event = crate::cluster::events::Event::UserClosed {
                    user,
                    reason: "your invitation has expired".into(),
                };
                if let Err(e) = state.events.publish(&event).await {
                    tracing::warn!(error = %e, "cannot close an expired guest's connections");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "purging expired guests failed"),
    }
    // Recordings past the retention setting.
    if let Some(age) = state.recording_retention {
        match store.expire_recordings(age.as_millis() as i64).await {
            Ok(expired) => {
                for (id, prefix) in expired {
                    tracing::info!(
                        recording = id,
                        "recording deleted: older than `recording_retention_days`"
                    );
                    crate::recordings::remove_files(&state.storage, &prefix).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "expiring old recordings failed"),
        }
    }
    // Deleted files whose bytes could not be removed at once (or whose room went).
    match crate::files::area::purge(store, &state.storage).await {
        Ok(n) if n > 0 => tracing::info!(files = n, "purged deleted files"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "purging deleted files failed"),
    }
    match result {
        Ok(n) if n > 0 => tracing::debug!(rows = n, "purged expired rows"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "purge failed"),
    }
}
