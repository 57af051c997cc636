//! Sign-in, sign-out and the current user.

use super::{JsonBody, client_addr};
use crate::auth::login::authenticate;
use crate::auth::{COOKIE_NAME, Caller, Via, password};
use crate::error::{ApiError, ApiResult};
use crate::server::AppState;
use crate::store::{Role, UserRow};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    login: String,
    password: String,
    /// `web` for the browser UI (sets the cookie), anything else or absent for the API.
    #[serde(default)]
    client: Option<String>,
}

pub fn user_json(u: &UserRow) -> Value {
    json!({
        "id": u.id,
        "login": u.login,
        "role": u.role,
        "display_name": u.display_name,
        "enabled": u.enabled,
        "created_at": crate::time::rfc3339(u.created_at),
    })
}

/// The Set-Cookie header of a browser session.
pub fn session_cookie(state: &AppState, sid: &str) -> HeaderValue {
    let secure = if state.node.url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{COOKIE_NAME}={sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        state.config.session_ttl.as_secs()
    );
    HeaderValue::from_str(&value).expect("cookie is ASCII")
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginBody>,
) -> ApiResult<Response> {
    // Not an attempt (nothing is counted against the account or the address).
    if body.login.is_empty()
        || body.password.is_empty()
        || body.login.len() > 100
        || body.password.len() > password::MAX_PASSWORD_LEN
    {
        return Err(ApiError::bad_request("login and password are required"));
    }
    let web = body.client.as_deref() == Some("web");
    let remote = client_addr(&state, &headers, peer);
    let user = authenticate(&state, &body.login, &body.password, &remote).await?;
    if web && user.role == Role::Webservice {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "webservice_account",
            "this is a webservice account for integrations: it can use the API only, not sign in to the web interface",
        ));
    }
    let ttl = state.config.session_ttl.as_millis() as i64;
    let sid = state
        .store
        .create_session(user.id, if web { "web" } else { "api" }, ttl)
        .await?;
    state.metrics.logins.inc();
    tracing::info!(user = %user.login, remote = %remote, web, "signed in");
    // A browser's session lives in the HttpOnly cookie only: no script may read it.
    let response = if web {
        let mut r = Json(json!({"user": user_json(&user)})).into_response();
        r.headers_mut()
            .insert(header::SET_COOKIE, session_cookie(&state, &sid));
        r
    } else {
        Json(json!({"sid": sid, "user": user_json(&user)})).into_response()
    };
    Ok(response)
}

pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    state.store.delete_session(&caller.sid).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if caller.via == Via::Cookie {
        response.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static("convene_sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
        );
    }
    Ok(response)
}

pub async fn me(caller: Caller) -> Json<Value> {
    Json(user_json(&caller.user))
}
