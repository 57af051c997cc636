//! What the `cluster` and `media` scenarios share: a throwaway PostgreSQL, node
//! processes, CPU accounting, and setting up accounts and rooms over several nodes.

pub mod cpu;
pub mod node;
pub mod pg;

use crate::client::Api;
use anyhow::Context;
use std::time::Instant;

/// Creates `count` accounts named `{prefix}-u00000`… (existing ones are reused) and
/// signs each in once, spreading the work over the nodes `apis`, `per_node` at a time
/// on each (every creation and sign-in is an Argon2 hash on the node). Returns one
/// session id per account, valid on every node (sessions live in the database).
pub async fn accounts(
    apis: &[Api],
    admin_sid: &str,
    prefix: &str,
    password: &str,
    count: usize,
    per_node: usize,
) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let workers = (apis.len() * per_node.max(1)).min(count.max(1));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let api = apis[w % apis.len()].clone();
        let admin = admin_sid.to_string();
        let (prefix, password) = (prefix.to_string(), password.to_string());
        tasks.push(tokio::spawn(async move {
            let mut sids = Vec::new();
            for i in (w..count).step_by(workers) {
                let login = format!("{prefix}-u{i:05}");
                api.create_user(&admin, &login, &password, "user").await?;
                sids.push((i, login_patiently(&api, &login, &password).await?));
            }
            anyhow::Ok(sids)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.context("account task failed")??);
    }
    all.sort_by_key(|(i, _)| *i);
    eprintln!(
        "{count} accounts created and signed in in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(all.into_iter().map(|(_, sid)| sid).collect())
}

/// Signs in, waiting and trying again (up to 10 times) when the node throttles
/// sign-ins from this address (HTTP 429).
async fn login_patiently(api: &Api, login: &str, password: &str) -> anyhow::Result<String> {
    let mut tries = 0;
    loop {
        match api.login(login, password).await {
            Err(e) if tries < 10 && format!("{e:#}").contains("HTTP 429") => {
                tries += 1;
                eprintln!("sign-in of {login} throttled (HTTP 429); trying again in 1 s");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            other => return other,
        }
    }
}

/// Creates public conference rooms `{prefix}-room-00000`… of `capacity`; returns their ids.
pub async fn rooms(
    api: &Api,
    admin_sid: &str,
    prefix: &str,
    first: usize,
    count: usize,
    capacity: i64,
) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(count);
    let mut batch = Vec::new();
    for i in first..first + count {
        let api = api.clone();
        let admin = admin_sid.to_string();
        let name = format!("{prefix}-room-{i:05}");
        batch.push(tokio::spawn(async move {
            api.create_room(&admin, &name, capacity).await
        }));
        if batch.len() == 8 || i + 1 == first + count {
            for t in batch.drain(..) {
                ids.push(t.await.context("room task failed")??.id);
            }
        }
    }
    Ok(ids)
}

/// A prefix for this run's accounts and rooms, so that runs against the same
/// database do not collide.
pub fn run_prefix(what: &str) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{what}{:x}", secs & 0xff_ffff)
}
