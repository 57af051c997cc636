//! The node registry (Administration → Servers): identity, heartbeats, and the
//! figures placement and the Servers page need.

use super::{Store, flag};
use crate::ids::NodeId;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A node is alive while its heartbeat is younger than this (database clock).
pub const ALIVE_MS: i64 = 5_000;

#[derive(Debug, Clone, Serialize)]
pub struct ServerRow {
    pub id: NodeId,
    pub name: String,
    pub url: String,
    pub address: String,
    pub http_port: i64,
    pub protocol: String,
    pub base_path: String,
    pub weight: f64,
    pub comment: String,
    pub active: bool,
    pub version: String,
    /// Milliseconds since the last heartbeat; None if the node never ran or stopped.
    pub heartbeat_age_ms: Option<i64>,
}

impl ServerRow {
    pub fn alive(&self) -> bool {
        self.heartbeat_age_ms.is_some_and(|age| age < ALIVE_MS)
    }
    /// up, down or inactive, as the Servers page shows it.
    pub fn status(&self) -> &'static str {
        match (self.active, self.alive()) {
            (false, _) => "inactive",
            (true, true) => "up",
            (true, false) => "down",
        }
    }
}

/// Load figures of one node.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ServerStats {
    pub rooms: i64,
    pub participants: i64,
    pub hosted_capacity: i64,
}

fn from_row(r: &AnyRow) -> sqlx::Result<ServerRow> {
    Ok(ServerRow {
        id: NodeId(r.try_get("id")?),
        name: r.try_get("name")?,
        url: r.try_get("url")?,
        address: r.try_get("address")?,
        http_port: r.try_get("http_port")?,
        protocol: r.try_get("protocol")?,
        base_path: r.try_get("base_path")?,
        weight: r.try_get("weight")?,
        comment: r.try_get("comment")?,
        active: flag(r.try_get("active")?),
        version: r.try_get("version")?,
        heartbeat_age_ms: r.try_get("age")?,
    })
}

const SELECT: &str =
    "SELECT id, name, url, address, http_port, protocol, base_path, weight, comment,
        active, version, NOW_MS - heartbeat_at AS age FROM servers";

impl Store {
    /// Registers this node at start. Fails if another live process holds the same id.
    pub async fn register_node(
        &self,
        id: NodeId,
        name: &str,
        url: &str,
        instance: &str,
        version: &str,
    ) -> anyhow::Result<()> {
        if let Some(existing) = self.server(id).await?
            && existing.alive()
        {
            anyhow::bail!(
                "node id {id} is already in use by a running node (last heartbeat {} ms ago); \
                 give this node another --node-id, or stop the other one first",
                existing.heartbeat_age_ms.unwrap_or(0)
            );
        }
        let (address, port, protocol, base_path) = split_url(url);
        sqlx::query(&self.sql(
            "INSERT INTO servers (id, name, url, address, http_port, protocol, base_path,
                                  heartbeat_at, started_at, instance, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NOW_MS, NOW_MS, $8, $9)
             ON CONFLICT (id) DO UPDATE SET name = $2, url = $3, address = $4, http_port = $5,
                 protocol = $6, base_path = $7, heartbeat_at = NOW_MS, started_at = NOW_MS,
                 instance = $8, version = $9",
        ))
        .bind(id.0)
        .bind(name)
        .bind(url)
        .bind(address)
        .bind(port)
        .bind(protocol)
        .bind(base_path)
        .bind(instance)
        .bind(version)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Writes this node's heartbeat; false if another process took over the id.
    pub async fn heartbeat(&self, id: NodeId, instance: &str) -> sqlx::Result<bool> {
        let res = sqlx::query(
            &self.sql("UPDATE servers SET heartbeat_at = NOW_MS WHERE id = $1 AND instance = $2"),
        )
        .bind(id.0)
        .bind(instance)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected() > 0)
    }

    /// Marks a cleanly stopped node as not running.
    pub async fn mark_node_stopped(&self, id: NodeId, instance: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE servers SET heartbeat_at = NULL WHERE id = $1 AND instance = $2")
            .bind(id.0)
            .bind(instance)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn server(&self, id: NodeId) -> sqlx::Result<Option<ServerRow>> {
        let sql = format!("{SELECT} WHERE id = $1");
        sqlx::query(&self.sql_owned(sql))
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?
            .map(|r| from_row(&r))
            .transpose()
    }

    pub async fn list_servers(&self) -> sqlx::Result<Vec<ServerRow>> {
        let sql = format!("{SELECT} ORDER BY id");
        sqlx::query(&self.sql_owned(sql))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    /// Rooms hosted, live participants and hosted capacity of every node.
    pub async fn server_stats(
        &self,
    ) -> sqlx::Result<std::collections::HashMap<NodeId, ServerStats>> {
        let mut stats = std::collections::HashMap::<NodeId, ServerStats>::new();
        for r in sqlx::query(
            "SELECT h.server_id AS id, COUNT(*) AS rooms, CAST(SUM(r.capacity) AS BIGINT) AS cap
             FROM room_hosts h JOIN rooms r ON r.id = h.room_id GROUP BY h.server_id",
        )
        .fetch_all(self.pool())
        .await?
        {
            let s = stats.entry(NodeId(r.try_get("id")?)).or_default();
            s.rooms = r.try_get("rooms")?;
            s.hosted_capacity = r.try_get("cap")?;
        }
        for r in
            sqlx::query("SELECT server_id AS id, COUNT(*) AS n FROM connections GROUP BY server_id")
                .fetch_all(self.pool())
                .await?
        {
            stats
                .entry(NodeId(r.try_get("id")?))
                .or_default()
                .participants = r.try_get("n")?;
        }
        Ok(stats)
    }

    /// Like [`Store::sql`] for statements assembled from constant parts.
    fn sql_owned(&self, text: String) -> String {
        text.replace("NOW_MS", self.sql("NOW_MS").as_ref())
    }
}

/// The seed's address, port, protocol and base path, read off a public URL.
fn split_url(url: &str) -> (String, i64, String, String) {
    let (protocol, rest) = url.split_once("://").unwrap_or(("http", url));
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let default_port = if protocol == "https" { 443 } else { 80 };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
            (h.to_string(), p.parse().unwrap_or(default_port))
        }
        _ => (hostport.to_string(), default_port),
    };
    (
        host,
        port,
        protocol.to_string(),
        path.trim_end_matches('/').to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn url_parts() {
        assert_eq!(
            split_url("http://10.0.0.5:5080/convene"),
            ("10.0.0.5".into(), 5080, "http".into(), "/convene".into())
        );
        assert_eq!(
            split_url("https://meet.example.org"),
            ("meet.example.org".into(), 443, "https".into(), "".into())
        );
    }
}
