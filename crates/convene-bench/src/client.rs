//! The REST API of a Convene node, as far as the scenarios need it.

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// An HTTP client bound to one node's base URL.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

/// A room as `GET /api/v1/rooms` lists it (the fields the bench uses).
#[derive(Debug, Deserialize)]
pub struct Room {
    pub id: i64,
    pub name: String,
    pub capacity: i64,
}

/// The answer of `POST /api/v1/rooms/{id}/enter`.
#[derive(Debug, Deserialize)]
pub struct Entry {
    pub ws_url: String,
}

/// Whether an account was made now or was there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Existing,
}

impl Api {
    pub fn new(base: &str, pool: usize) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /readyz` answered 200.
    pub async fn ready(&self) -> bool {
        match self.http.get(self.url("/readyz")).send().await {
            Ok(r) => r.status() == StatusCode::OK,
            Err(_) => false,
        }
    }

    /// Signs in and returns the session id.
    pub async fn login(&self, login: &str, password: &str) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        struct Session {
            sid: String,
        }
        let response = self
            .http
            .post(self.url("/api/v1/login"))
            .json(&json!({"login": login, "password": password}))
            .send()
            .await
            .with_context(|| format!("POST /api/v1/login as {login}"))?;
        let session: Session = expect_json(response, "POST /api/v1/login").await?;
        Ok(session.sid)
    }

    /// Creates an account with `role`; an existing login (409) is reused as it is.
    pub async fn create_user(
        &self,
        sid: &str,
        login: &str,
        password: &str,
        role: &str,
    ) -> anyhow::Result<Created> {
        let response = self
            .http
            .post(self.url("/api/v1/users"))
            .bearer_auth(sid)
            .json(&json!({"login": login, "password": password, "role": role}))
            .send()
            .await
            .with_context(|| format!("POST /api/v1/users {login}"))?;
        match response.status() {
            StatusCode::CREATED => Ok(Created::New),
            StatusCode::CONFLICT => Ok(Created::Existing),
            _ => Err(failure(response, "POST /api/v1/users").await),
        }
    }

    pub async fn rooms(&self, sid: &str) -> anyhow::Result<Vec<Room>> {
        let response = self
            .http
            .get(self.url("/api/v1/rooms"))
            .bearer_auth(sid)
            .send()
            .await
            .context("GET /api/v1/rooms")?;
        expect_json(response, "GET /api/v1/rooms").await
    }

    /// Creates a public conference room.
    pub async fn create_room(&self, sid: &str, name: &str, capacity: i64) -> anyhow::Result<Room> {
        let response = self
            .http
            .post(self.url("/api/v1/rooms"))
            .bearer_auth(sid)
            .json(&room_body(name, capacity))
            .send()
            .await
            .with_context(|| format!("POST /api/v1/rooms {name}"))?;
        expect_json(response, "POST /api/v1/rooms").await
    }

    /// Makes an existing room a public conference room of the given capacity.
    pub async fn update_room(
        &self,
        sid: &str,
        id: i64,
        name: &str,
        capacity: i64,
    ) -> anyhow::Result<Room> {
        let path = format!("/api/v1/rooms/{id}");
        let response = self
            .http
            .put(self.url(&path))
            .bearer_auth(sid)
            .json(&room_body(name, capacity))
            .send()
            .await
            .with_context(|| format!("PUT {path}"))?;
        expect_json(response, "PUT /api/v1/rooms/{id}").await
    }

    /// Asks for an entry token to a room.
    pub async fn enter(&self, sid: &str, room: i64) -> anyhow::Result<Entry> {
        let response = self
            .http
            .post(self.url(&format!("/api/v1/rooms/{room}/enter")))
            .bearer_auth(sid)
            .send()
            .await
            .with_context(|| format!("POST /api/v1/rooms/{room}/enter"))?;
        expect_json(response, "POST /api/v1/rooms/{id}/enter").await
    }
}

fn room_body(name: &str, capacity: i64) -> Value {
    json!({"name": name, "kind": "conference", "capacity": capacity, "public": true})
}

async fn expect_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> anyhow::Result<T> {
    if !response.status().is_success() {
        return Err(failure(response, what).await);
    }
    let text = response
        .text()
        .await
        .with_context(|| format!("{what}: reading the answer"))?;
    serde_json::from_str(&text).with_context(|| format!("{what}: unexpected answer {text:?}"))
}

/// An error naming the request, the status and the server's message.
async fn failure(response: reqwest::Response, what: &str) -> anyhow::Error {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    anyhow::anyhow!("{what}: HTTP {status}: {body}")
}

/// Fails unless the URL is plain `http://` (the bench does not speak TLS).
pub fn check_base_url(url: &str) -> anyhow::Result<()> {
    if !url.starts_with("http://") {
        bail!("--url must be an http:// URL, not {url:?}");
    }
    Ok(())
}
