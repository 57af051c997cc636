//! The node registry (Administration → Servers): identity, heartbeats, and the
//! figures placement and the Servers page need.

use super::{Store, flag};
use crate::ids::NodeId;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// How long a renewed lease lasts (database clock): a node that could not renew for
/// this long has stopped serving its rooms by itself, and may be declared dead.
pub const LEASE_MS: i64 = 5_000;

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
    /// While a drain is under way: milliseconds until its deadline (negative once past).
    pub drain_remaining_ms: Option<i64>,
    /// The node's lease epoch: grows at each registration and when it is declared dead.
    pub epoch: i64,
    /// Milliseconds its hosting lease has left; None if it holds none.
    pub lease_left_ms: Option<i64>,
    /// False while a part of the node (media, event listener) is down.
    pub ready: bool,
    /// `ok`, or what is wrong with the shared storage, as this node last saw it.
    pub storage_status: String,
}

impl ServerRow {
    /// Holds a valid hosting lease (database clock).
    pub fn alive(&self) -> bool {
        self.lease_left_ms.is_some_and(|left| left > 0)
    }
    /// May be given new rooms: alive, active and every part of it working.
    pub fn placeable(&self) -> bool {
        self.alive() && self.active && self.ready
    }
    /// up, down, inactive or draining, as the Servers page shows it.
    pub fn status(&self) -> &'static str {
        match (self.active, self.alive(), self.drain_remaining_ms) {
            (false, true, Some(_)) => "draining",
            (false, _, _) => "inactive",
            (true, true, _) => "up",
            (true, false, _) => "down",
        }
    }

    /// The URL the seed's fields describe.
    pub fn url_from_parts(protocol: &str, address: &str, port: i64, base_path: &str) -> String {
        let default = (protocol == "http" && port == 80) || (protocol == "https" && port == 443);
        let host = if address.contains(':') && !address.starts_with('[') {
            format!("[{address}]")
        } else {
            address.to_string()
        };
        let port = if default {
            String::new()
        } else {
            format!(":{port}")
        };
        format!("{protocol}://{host}{port}{base_path}")
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
        drain_remaining_ms: r.try_get("drain_left")?,
        storage_status: r.try_get("storage_status")?,
        epoch: r.try_get("lease_epoch")?,
        lease_left_ms: r.try_get("lease_left")?,
        ready: flag(r.try_get("ready")?),
    })
}

const SELECT: &str =
    "SELECT id, name, url, address, http_port, protocol, base_path, weight, comment,
        active, version, NOW_MS - heartbeat_at AS age, draining_until - NOW_MS AS drain_left,
        storage_status, lease_epoch, lease_until - NOW_MS AS lease_left, ready FROM servers";

/// A server as an administrator describes it (Administration → Servers).
#[derive(Debug, Clone)]
pub struct ServerWrite {
    pub name: String,
    pub address: String,
    pub http_port: i64,
    pub protocol: String,
    pub base_path: String,
    pub weight: f64,
    pub comment: String,
    pub active: bool,
}

/// The ids a node may have (the `node_id` setting, `POST /api/v1/servers`, `server add`).
pub const NODE_IDS: std::ops::RangeInclusive<i64> = 1..=1_000_000;

impl ServerWrite {
    /// Trims the name and address, normalises the base path (see [`normalise_base_path`])
    /// and checks every field: the one rule of the API and the command line. The error
    /// names the field, for a person.
    pub fn checked(mut self) -> Result<ServerWrite, String> {
        self.name = self.name.trim().to_string();
        self.address = self.address.trim().to_string();
        self.base_path = normalise_base_path(&self.base_path);
        self.validate()?;
        Ok(self)
    }

    /// Checks every field as it is.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            return Err("name must be 1 to 100 characters".into());
        }
        let address_ok = !self.address.is_empty()
            && self.address.len() <= 255
            && self
                .address
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !address_ok {
            return Err("address must be a host name or IP address".into());
        }
        if !(1..=65535).contains(&self.http_port) {
            return Err("http_port must be between 1 and 65535".into());
        }
        if self.protocol != "http" && self.protocol != "https" {
            return Err("protocol must be http or https".into());
        }
        if self.base_path.len() > 200
            || self
                .base_path
                .contains(|c: char| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
        {
            return Err("base_path must be a plain URL path".into());
        }
        if !(self.weight > 0.0 && self.weight <= 1000.0) {
            return Err("weight must be greater than 0 and at most 1000".into());
        }
        if self.comment.chars().count() > 2000 {
            return Err("comment must be at most 2000 characters".into());
        }
        Ok(())
    }
}

/// A base path as stored: `/path` without a trailing `/`, or empty.
pub fn normalise_base_path(p: &str) -> String {
    let trimmed = p.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

impl Store {
    /// Registers this node at start (or after it was declared dead) with a new lease
    /// epoch, which it returns. Fails if another live process holds the same id.
    pub async fn register_node(
        &self,
        id: NodeId,
        name: Option<&str>,
        url: &str,
        instance: &str,
        version: &str,
    ) -> anyhow::Result<i64> {
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
        // A name given to this node wins; otherwise the one an admin chose, or node-N.
        let name = match (name, &self.server(id).await?) {
            (Some(n), _) => n.to_string(),
            (None, Some(existing)) => existing.name.clone(),
            (None, None) => format!("node-{id}"),
        };
        let row = sqlx::query(&self.sql(
            "INSERT INTO servers (id, name, url, address, http_port, protocol, base_path,
                                  heartbeat_at, started_at, instance, version, lease_epoch,
                                  lease_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NOW_MS, NOW_MS, $8, $9, 1, NOW_MS + $10)
             ON CONFLICT (id) DO UPDATE SET name = $2, url = $3, address = $4, http_port = $5,
                 protocol = $6, base_path = $7, heartbeat_at = NOW_MS, started_at = NOW_MS,
                 instance = $8, version = $9, draining_until = NULL,
                 lease_epoch = servers.lease_epoch + 1, lease_until = NOW_MS + $10
             RETURNING lease_epoch",
        ))
        .bind(id.0)
        .bind(&name)
        .bind(url)
        .bind(address)
        .bind(port)
        .bind(protocol)
        .bind(base_path)
        .bind(instance)
        .bind(version)
        .bind(LEASE_MS)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("lease_epoch")?)
    }

    /// Marks a cleanly stopped node as not running and gives up its lease.
    pub async fn mark_node_stopped(&self, id: NodeId, instance: &str) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE servers SET heartbeat_at = NULL, lease_until = NULL
             WHERE id = $1 AND instance = $2",
        )
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

    /// Adds a server before its node runs; `Ok(None)` if the id exists.
    pub async fn add_server(&self, id: NodeId, w: &ServerWrite) -> sqlx::Result<Option<ServerRow>> {
        let res = server_query(
            "INSERT INTO servers (id, name, url, address, http_port, protocol, base_path, weight,
                                  comment, active)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            id,
            w,
        )
        .execute(self.pool())
        .await;
        match res {
            Ok(_) => self.server(id).await,
            Err(e) if super::users::is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces a server's administered fields; `Ok(None)` if there is no such server.
    pub async fn update_server(
        &self,
        id: NodeId,
        w: &ServerWrite,
    ) -> sqlx::Result<Option<ServerRow>> {
        let res = server_query(
            "UPDATE servers SET name = $2, url = $3, address = $4, http_port = $5, protocol = $6,
                 base_path = $7, weight = $8, comment = $9, active = $10,
                 draining_until = CASE WHEN $10 = 1 THEN NULL ELSE draining_until END
             WHERE id = $1",
            id,
            w,
        )
        .execute(self.pool())
        .await?;
        if res.rows_affected() == 0 {
            return Ok(None);
        }
        self.server(id).await
    }

    /// Stops giving the server new rooms and sets the drain deadline.
    pub async fn start_drain(&self, id: NodeId, deadline_ms: i64) -> sqlx::Result<bool> {
        let res = sqlx::query(
            &self.sql("UPDATE servers SET active = 0, draining_until = NOW_MS + $2 WHERE id = $1"),
        )
        .bind(id.0)
        .bind(deadline_ms)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected() > 0)
    }

    pub async fn set_storage_status(&self, id: NodeId, status: &str) -> sqlx::Result<()> {
        sqlx::query(&self.sql(
            "UPDATE servers SET storage_status = $2, storage_checked_at = NOW_MS WHERE id = $1",
        ))
        .bind(id.0)
        .bind(status)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Like [`Store::sql`] for statements assembled from constant parts.
    pub(super) fn sql_owned(&self, text: String) -> String {
        text.replace("NOW_MS", self.sql("NOW_MS").as_ref())
    }
}

/// `sql` with the administered fields bound as $1 (id) to $10 (active), in the order
/// both the insert and the update use.
fn server_query<'q>(
    sql: &'q str,
    id: NodeId,
    w: &'q ServerWrite,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let url = ServerRow::url_from_parts(&w.protocol, &w.address, w.http_port, &w.base_path);
    sqlx::query(sql)
        .bind(id.0)
        .bind(&w.name)
        .bind(url)
        .bind(&w.address)
        .bind(w.http_port)
        .bind(&w.protocol)
        .bind(&w.base_path)
        .bind(w.weight)
        .bind(&w.comment)
        .bind(w.active as i64)
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
    use super::*;

    fn write() -> ServerWrite {
        ServerWrite {
            name: " east ".into(),
            address: " 10.1.2.3 ".into(),
            http_port: 5080,
            protocol: "http".into(),
            base_path: "meet/".into(),
            weight: 1.0,
            comment: String::new(),
            active: true,
        }
    }

    #[test]
    fn server_writes_are_tidied_and_checked() {
        let w = write().checked().unwrap();
        assert_eq!(
            (w.name.as_str(), w.address.as_str(), w.base_path.as_str()),
            ("east", "10.1.2.3", "/meet")
        );
        assert_eq!(normalise_base_path(" / "), "");
        assert_eq!(normalise_base_path("/a/b/"), "/a/b");
        let bad = |f: fn(&mut ServerWrite)| {
            let mut w = write();
            f(&mut w);
            w.checked().unwrap_err()
        };
        assert!(bad(|w| w.address = "a b".into()).contains("address"));
        assert!(bad(|w| w.base_path = "x y".into()).contains("base_path"));
        assert!(bad(|w| w.base_path = "x?y".into()).contains("base_path"));
        assert!(bad(|w| w.name = "  ".into()).contains("name"));
        assert!(bad(|w| w.name = "n".repeat(101)).contains("name"));
        assert!(bad(|w| w.http_port = 0).contains("http_port"));
        assert!(bad(|w| w.protocol = "gopher".into()).contains("protocol"));
        assert!(bad(|w| w.weight = 0.0).contains("weight"));
        assert!(bad(|w| w.weight = f64::NAN).contains("weight"));
        assert!(bad(|w| w.comment = "c".repeat(2001)).contains("comment"));
    }

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
