//! Sign-in, sign-out and the current user: its profile and its password.

use super::{JsonBody, client_addr};
use crate::auth::login::{Gate, authenticate};
use crate::auth::{COOKIE_NAME, Caller, Via, account, password, policy};
use crate::error::{ApiError, ApiResult};
use crate::node::AppState;
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
        "language": u.language,
    })
}

/// The Set-Cookie header of a browser session.
pub fn session_cookie(state: &AppState, sid: &str) -> HeaderValue {
    let secure = if crate::public_url::cookies_secure(&state.config) {
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
    let gate = Gate {
        store: &state.store,
        hashing: &state.hashing,
        throttle_after: state.config.login_throttle_after,
    };
    let user = match authenticate(gate, &body.login, &body.password, &remote).await {
        Ok(user) => user,
        Err(e) => {
            if e.status == StatusCode::UNAUTHORIZED {
                state.metrics.login_failures.inc();
            }
            return Err(e);
        }
    };
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
        let clear = if crate::public_url::cookies_secure(&state.config) {
            "convene_sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        } else {
            "convene_sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        };
        response
            .headers_mut()
            .insert(header::SET_COOKIE, HeaderValue::from_static(clear));
    }
    Ok(response)
}

pub async fn me(caller: Caller) -> Json<Value> {
    Json(user_json(&caller.user))
}

/// The interface languages an account may choose (the web UI's catalogues).
pub const LANGUAGES: &[&str] = &["en", "de"];

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub(super) fn some_or_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PUT /api/v1/me` body: what an account changes about itself; omitted fields stay.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    #[serde(default)]
    display_name: Option<String>,
    /// One of [`LANGUAGES`], or `null` for the browser's language.
    #[serde(default, deserialize_with = "some_or_null")]
    language: Option<Option<String>>,
}

/// A language tag from [`LANGUAGES`], in any case; stored in lower case.
fn check_language(tag: &str) -> ApiResult<String> {
    let tag = tag.trim().to_ascii_lowercase();
    if LANGUAGES.contains(&tag.as_str()) {
        Ok(tag)
    } else {
        Err(ApiError::bad_request(format!(
            "language must be one of {} (or null for the browser's language)",
            LANGUAGES.join(", ")
        )))
    }
}

/// `PUT /api/v1/me`: the caller's display name and language.
pub async fn update_me(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ProfileBody>,
) -> ApiResult<Json<Value>> {
    if let Some(name) = &body.display_name {
        account::check_display_name(name).map_err(ApiError::bad_request)?;
    }
    let language = match body.language {
        Some(Some(tag)) => Some(Some(check_language(&tag)?)),
        Some(None) => Some(None),
        None => None,
    };
    let user = state
        .store
        .update_profile(
            caller.user.id,
            body.display_name.as_deref().map(str::trim),
            language.as_ref().map(|l| l.as_deref()),
        )
        .await?
        .ok_or_else(|| ApiError::unauthorized("your account no longer exists"))?;
    Ok(Json(user_json(&user)))
}

/// `POST /api/v1/me/password` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current: String,
    new: String,
}

/// `POST /api/v1/me/password`: a new password for the caller, given the current one
/// (checked like a sign-in: through the hashing threads, throttled with the sign-ins of
/// the account and the address). On success every other session of the account ends and
/// its live connections close (4003); the session that asked stays.
pub async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    caller: Caller,
    JsonBody(body): JsonBody<PasswordBody>,
) -> ApiResult<Json<Value>> {
    if !policy::may_change_own_password(&caller) {
        return Err(ApiError::forbidden(
            "this account has no password to change",
        ));
    }
    // Not attempts: nothing is counted.
    if body.current.is_empty() || body.current.len() > password::MAX_PASSWORD_LEN {
        return Err(ApiError::bad_request(
            "current: your current password is required",
        ));
    }
    password::check_policy(&body.new).map_err(|e| ApiError::bad_request(format!("new: {e}")))?;
    if body.new == body.current {
        return Err(ApiError::bad_request(
            "new: the new password must differ from the current one",
        ));
    }
    let remote = client_addr(&state, &headers, peer);
    let gate = Gate {
        store: &state.store,
        hashing: &state.hashing,
        throttle_after: state.config.login_throttle_after,
    };
    let checked = match authenticate(gate, &caller.user.login, &body.current, &remote).await {
        Ok(user) if user.id == caller.user.id => user,
        // Another account under this login cannot be (logins are unique in any case).
        Ok(_) => return Err(ApiError::forbidden("the current password is wrong")),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            state.metrics.login_failures.inc();
            // Not 401: the session is fine, only the password is not.
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "wrong_password",
                "the current password is wrong",
            ));
        }
        Err(e) => return Err(e),
    };
    let hash = password::hash(&state.hashing, body.new).await?;
    state
        .store
        .update_user(checked.id, None, None, None, Some(&hash))
        .await
        .map_err(|e| match e {
            crate::store::AccountError::Db(e) => ApiError::from(e),
            _ => ApiError::unauthorized("your account no longer exists"),
        })?;
    let ended = state
        .store
        .delete_other_sessions(checked.id, &caller.sid)
        .await?;
    // Every live connection of the account, this browser's other tabs too: a password is
    // changed when it may be known to someone else, who may be in a room right now.
    super::users::close_user_everywhere(
        &state,
        checked.id,
        "the password of your account was changed; sign in again",
    )
    .await;
    tracing::info!(user = %checked.login, sessions_ended = ended, "password changed by its owner");
    Ok(Json(json!({"other_sessions_ended": ended})))
}
