//! `user`: login (sid), the secure hash, accounts.

use super::dto::{profile_in, user_out};
use super::reply::{OmResult, failure, not_allowed, soft_error, success, wrap};
use super::transport::{OmRequest, long, path_id, text};
use super::{Fail, soap};
use crate::auth::login::{Gate, authenticate};
use crate::auth::{password, policy};
use crate::ids::{RoomId, UserId};
use crate::node::AppState;
use crate::store::Role;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

/// How long a secure hash stays valid unused.
pub const HASH_TTL: Duration = Duration::from_secs(15 * 60);

/// `POST user/login` (form `user`, `pass`) and, deprecated, `GET user/login?user=…&pass=…`
/// (OpenMeetings ≤ 8; credentials in a URL end up in logs). The sid is an ordinary API
/// session. A wrong password is OpenMeetings' 200 `error.bad.credentials`, counted by
/// Convene's login throttle; a throttled attempt is 429 with `Retry-After`.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    req: OmRequest,
) -> OmResult {
    if req.method == axum::http::Method::GET {
        // Never the values: they are the credentials.
        tracing::warn!(
            "deprecated GET user/login: the password travels in the URL (and into proxies' \
             logs); the client should POST it as a form"
        );
    }
    let field = |k: &str| req.arg(k).map(|(v, _)| v.to_string()).unwrap_or_default();
    let (login, pass) = (field("user"), field("pass"));
    // Not an attempt: nothing is counted.
    if login.is_empty()
        || pass.is_empty()
        || login.len() > 100
        || pass.len() > password::MAX_PASSWORD_LEN
    {
        return Ok(soft_error("error.bad.credentials"));
    }
    let remote = crate::api::client_addr(&state, &headers, peer);
    let gate = Gate {
        store: &state.store,
        hashing: &state.hashing,
        throttle_after: state.config.login_throttle_after,
    };
    let user = match authenticate(gate, &login, &pass, &remote).await {
        Ok(user) => user,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            state.metrics.login_failures.inc();
            return Ok(soft_error("error.bad.credentials"));
        }
        Err(e) if e.status == StatusCode::FORBIDDEN => return Ok(soft_error("error.notactivated")),
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => {
            let mut r = super::reply::result(
                StatusCode::TOO_MANY_REQUESTS,
                "ERROR",
                "error.too.many.attempts",
            );
            if let Some(secs) = e.retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return Ok(r);
        }
        Err(e) => return Ok(e.into_response()),
    };
    // The web-service right: webservice accounts (and administrators).
    if !matches!(user.role, Role::Webservice | Role::Admin) {
        tracing::info!(user = %user.login, "openmeetings login refused: no web-service right");
        return Ok(soft_error("error.notallowed"));
    }
    let ttl = state.config.session_ttl.as_millis() as i64;
    let sid = state.store.create_session(user.id, "api", ttl).await?;
    state.metrics.logins.inc();
    tracing::info!(user = %user.login, remote = %remote, "signed in through the openmeetings API");
    Ok(success(sid))
}

/// `POST user/hash` (form `user` = ExternalUserDTO, `options` = RoomOptionsDTO): a
/// single-use hash, valid 15 minutes, bound to the person, the room and the moderator right.
pub async fn hash(State(state): State<AppState>, req: OmRequest) -> OmResult {
    let caller = soap(&state, &req).await?;
    let user = req.json("user", "externalUserDTO")?.unwrap_or_default();
    let options = req.json("options", "roomOptionsDTO")?.unwrap_or_default();
    let Some(profile) = profile_in(&user) else {
        return Ok(soft_error("externalId and/or externalType are not set"));
    };
    let number = |k: &str| {
        long(&options, k).map_err(|_| Fail::from(super::status_only(StatusCode::BAD_REQUEST)))
    };
    let room_id = number("roomId")?;
    let recording = number("recordingId")?;
    let external_room = text(&options, "externalRoomId").filter(|s| !s.trim().is_empty());
    let external_type = text(&options, "externalType").filter(|s| !s.trim().is_empty());
    let mut room = None;
    if let (Some(t), Some(i)) = (&external_type, &external_room) {
        room = state
            .store
            .om_room_by_external(t.trim(), i.trim(), None)
            .await?;
    }
    if room.is_none()
        && let Some(id) = room_id.filter(|i| *i > 0)
    {
        room = state.store.room(RoomId(id)).await?.map(|r| r.id);
    }
    if room.is_none() && recording.is_none() {
        return Err(failure("room not found"));
    }
    if let Some(id) = room {
        let row = state
            .store
            .room(id)
            .await?
            .ok_or_else(|| failure("room not found"))?;
        if !policy::may_see_room(&caller, &row) {
            return Err(not_allowed());
        }
    }
    let moderator = super::transport::boolean(&options, "moderator").unwrap_or(false);
    let token = state
        .store
        .om_create_hash(
            room,
            &profile,
            moderator,
            caller.user.id,
            HASH_TTL.as_millis() as i64,
        )
        .await?;
    tracing::info!(
        room = ?room.map(|r| r.0), external_type = %profile.external_type, moderator,
        by = %caller.user.login, "openmeetings secure hash made"
    );
    Ok(success(token))
}

/// `GET user/`: every account, external people with their profile.
pub async fn list(State(state): State<AppState>, req: OmRequest) -> OmResult {
    let caller = soap(&state, &req).await?;
    if !policy::is_manager(&caller) {
        return Err(not_allowed());
    }
    let profiles = state.store.om_external_users().await?;
    let users: Vec<Value> = state
        .store
        .list_users()
        .await?
        .iter()
        .filter(|u| u.role != Role::Guest)
        .map(|u| user_out(u, profiles.get(&u.id)))
        .collect();
    Ok(wrap("userDTO", Value::Array(users)))
}

/// `POST user/` (form `user` = UserDTO with `password`): a `user` account with a password;
/// with externalId/externalType it is also that external person.
pub async fn add(State(state): State<AppState>, req: OmRequest) -> OmResult {
    let caller = soap(&state, &req).await?;
    if !policy::may_grant_role(&caller, Role::User) {
        return Err(not_allowed());
    }
    let dto = req
        .json("user", "userDTO")?
        .ok_or_else(|| Fail::from(super::status_only(StatusCode::BAD_REQUEST)))?;
    let login = text(&dto, "login").unwrap_or_default().trim().to_string();
    crate::auth::account::check_login(&login).map_err(|e| failure(&e.to_string()))?;
    let pass = text(&dto, "password").unwrap_or_default();
    password::check_policy(&pass).map_err(|e| failure(&e.to_string()))?;
    let profile = profile_in(&serde_json::json!({
        "externalId": text(&dto, "externalId"),
        "externalType": text(&dto, "externalType"),
        "login": login,
        "firstname": text(&dto, "firstname"),
        "lastname": text(&dto, "lastname"),
        "email": dto.get("address").and_then(|a| text(a, "email")),
    }));
    if let Some(p) = &profile
        && state
            .store
            .om_external_user(&p.external_type, &p.external_id)
            .await?
            .is_some()
    {
        return Err(failure(
            "a user with this externalId and externalType exists",
        ));
    }
    let display = format!(
        "{} {}",
        text(&dto, "firstname").unwrap_or_default().trim(),
        text(&dto, "lastname").unwrap_or_default().trim()
    );
    let display: String = display.trim().chars().take(100).collect();
    let hash = password::hash(&state.hashing, pass)
        .await
        .map_err(|_| failure("the server is busy; try again"))?;
    let Some(user) = state
        .store
        .create_user(&login, &hash, Role::User, &display)
        .await?
    else {
        return Err(failure("this login is taken"));
    };
    if let Some(p) = &profile {
        state.store.om_map_external_user(user.id, p).await?;
    }
    tracing::info!(user = %user.login, by = %caller.user.login, "user created through the openmeetings API");
    Ok(wrap("userDTO", user_out(&user, profile.as_ref())))
}

/// Deletes an account the caller may manage (never an administrator, for a webservice
/// account; never itself), closing its connections everywhere.
async fn delete_account(state: &AppState, caller: &crate::auth::Caller, id: UserId) -> OmResult {
    if id == caller.user.id {
        return Err(failure("you cannot delete your own account"));
    }
    let Some(target) = state.store.user(id).await? else {
        return Err(failure("Not found"));
    };
    if !policy::may_manage_account(caller, target.role) {
        return Err(not_allowed());
    }
    let event = crate::cluster::events::Event::UserClosed {
        user: id,
        reason: "your account was deleted".into(),
    };
    state.events.publish(&event).await?;
    match state.store.delete_user(id).await {
        Ok(()) => {}
        Err(crate::store::AccountError::Db(e)) => return Err(e.into()),
        Err(e) => return Err(failure(&e.to_string())),
    }
    tracing::info!(user = %id, by = %caller.user.login, "user deleted through the openmeetings API");
    Ok(success("Deleted"))
}

/// `DELETE user/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let id = path_id(&id)?;
    delete_account(&state, &caller, UserId(id)).await
}

/// `DELETE user/{externaltype}/{externalid}`.
pub async fn delete_external(
    State(state): State<AppState>,
    Path((external_type, external_id)): Path<(String, String)>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let Some((id, _)) = state
        .store
        .om_external_user(&external_type, &external_id)
        .await?
    else {
        return Err(failure("Not found"));
    };
    delete_account(&state, &caller, id).await
}
