//! Invitations and guests: a room's moderators hand out links (`/invite/<token>`); someone
//! without an account opens one, gives a display name (and the password, if it has one)
//! and gets a guest session for that room only (the rule is in `auth::Caller`).
//!
//! Tokens are 256 random bits, stored hashed, bound to their room, with an expiry on the
//! database clock; a single-use one is used up in one statement. Redemption is throttled
//! like sign-in: per address (failures: unknown tokens, wrong passwords) and per
//! invitation (wrong passwords), each in the shared login-failure table.

use super::{Id, JsonBody, client_addr};
use crate::auth::password::{self, MAX_PASSWORD_LEN};
use crate::auth::{Caller, policy};
use crate::cluster::events::Event;
use crate::error::{ApiError, ApiResult};
use crate::ids::RoomId;
use crate::node::AppState;
use crate::store::{InvitationRow, InviteRole, InviteStatus, NewInvitation, RoomRow};
use crate::time::rfc3339;
use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

/// The longest an invitation may be valid: 30 days.
pub const MAX_EXPIRES_IN: i64 = 30 * 24 * 3600;
/// Unless told otherwise: one day.
const DEFAULT_EXPIRES_IN: i64 = 24 * 3600;
/// Invitations a room may have that are neither expired nor revoked.
const MAX_LIVE_PER_ROOM: i64 = 500;
/// The shortest invitation password (a shared code; guesses are throttled).
const MIN_PASSWORD_CHARS: usize = 4;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    #[serde(default = "default_role")]
    role: String,
    #[serde(default = "default_uses")]
    uses: String,
    #[serde(default = "default_expires_in")]
    expires_in: i64,
    #[serde(default)]
    password: Option<String>,
}

fn default_role() -> String {
    "participant".into()
}
fn default_uses() -> String {
    "single".into()
}
fn default_expires_in() -> i64 {
    DEFAULT_EXPIRES_IN
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    token: String,
    display_name: String,
    #[serde(default)]
    password: Option<String>,
    /// `web` for the browser UI (sets the cookie and answers no `sid`), as at sign-in.
    #[serde(default)]
    client: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    token: String,
}

/// Who may invite to the room (create, list and revoke its invitations): the one place
/// for it is `auth::policy::may_invite` (admins, the room's owner and moderators).
pub fn may_invite(caller: &Caller, room: &RoomRow) -> bool {
    policy::may_invite(caller, room)
}

pub fn invitation_json(inv: &InvitationRow) -> Value {
    json!({
        "id": inv.id,
        "room_id": inv.room,
        "role": inv.role.as_str(),
        "uses": if inv.multi_use { "multi" } else { "single" },
        "password_required": inv.password_hash.is_some(),
        "status": inv.status().as_str(),
        "redeemed": inv.uses,
        "created_by": inv.created_by,
        "created_at": rfc3339(inv.created_at),
        "expires_at": rfc3339(inv.expires_at),
        "revoked_at": inv.revoked_at.map(rfc3339),
        "last_used_at": inv.last_used_at.map(rfc3339),
    })
}

/// The room, if the caller may invite to it: 404 if it may not even see it, 403 if it
/// may only see it.
async fn invitable_room(state: &AppState, caller: &Caller, room: RoomId) -> ApiResult<RoomRow> {
    let room = state
        .store
        .room(room)
        .await?
        .ok_or_else(|| ApiError::not_found("room"))?;
    if !policy::may_see_room(caller, &room) {
        return Err(ApiError::not_found("room"));
    }
    if !may_invite(caller, &room) {
        return Err(ApiError::forbidden(
            "only the room's moderators can invite people to it",
        ));
    }
    Ok(room)
}

/// `POST /api/v1/rooms/{id}/invitations`: a new link to hand out (its token is shown
/// only here).
pub async fn create(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    caller: Caller,
    Id(id): Id,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let room = invitable_room(&state, &caller, RoomId(id)).await?;
    let role = InviteRole::parse(&body.role)
        .ok_or_else(|| ApiError::bad_request("role must be participant or moderator"))?;
    let multi_use = match body.uses.as_str() {
        "single" => false,
        "multi" => true,
        _ => return Err(ApiError::bad_request("uses must be single or multi")),
    };
    if !(1..=MAX_EXPIRES_IN).contains(&body.expires_in) {
        return Err(ApiError::bad_request(format!(
            "expires_in must be between 1 and {MAX_EXPIRES_IN} seconds (30 days)"
        )));
    }
    let password_hash = match body.password {
        None => None,
        Some(p) => {
            if p.chars().count() < MIN_PASSWORD_CHARS || p.len() > MAX_PASSWORD_LEN {
                return Err(ApiError::bad_request(format!(
                    "password must be null, or {MIN_PASSWORD_CHARS} characters to {MAX_PASSWORD_LEN} bytes"
                )));
            }
            Some(password::hash(&state.hashing, p).await?)
        }
    };
    if state.store.count_live_invitations(room.id).await? >= MAX_LIVE_PER_ROOM {
        return Err(ApiError::conflict(format!(
            "this room has {MAX_LIVE_PER_ROOM} open invitations; revoke some first"
        )));
    }
    let origin = crate::public_url::client_origin(&state.config, &headers)?;
    state
        .url_warnings
        .check(&origin, &client_addr(&state, &headers, peer));
    let (inv, token) = state
        .store
        .create_invitation(&NewInvitation {
            room: room.id,
            role,
            multi_use,
            password_hash: password_hash.as_deref(),
            created_by: caller.user.id,
            ttl_ms: body.expires_in * 1000,
        })
        .await?;
    tracing::info!(room = %room.id, invitation = inv.id, by = %caller.user.login, role = role.as_str(), multi_use, "invitation created");
    let mut out = invitation_json(&inv);
    out["url"] = json!(format!("{origin}/invite/{token}"));
    out["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(out)))
}

/// `GET /api/v1/rooms/{id}/invitations`: the room's invitations (no tokens), newest first.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Vec<Value>>> {
    let room = invitable_room(&state, &caller, RoomId(id)).await?;
    let rows = state.store.room_invitations(room.id).await?;
    Ok(Json(rows.iter().map(invitation_json).collect()))
}

/// `DELETE /api/v1/invitations/{id}`: revokes the link; the guests it let in are signed
/// out and leave the room.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let inv = state
        .store
        .invitation(id)
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    if let Err(e) = invitable_room(&state, &caller, inv.room).await {
        // Seeing the invitation's id is no reason to learn its room exists.
        return Err(if e.status == StatusCode::FORBIDDEN {
            e
        } else {
            ApiError::not_found("invitation")
        });
    }
    let guests = state
        .store
        .revoke_invitation(id)
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    for user in &guests {
        let event = Event::UserClosed {
            user: *user,
            reason: "the invitation you came in with was revoked".into(),
        };
        state.events.publish(&event).await?;
    }
    tracing::info!(invitation = id, guests = guests.len(), by = %caller.user.login, "invitation revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The answer for an invitation that cannot be used: 404 for an unknown token, 410 for
/// one that was, with a sentence for the person holding the link.
fn refusal(status: Option<InviteStatus>) -> ApiError {
    match status {
        None | Some(InviteStatus::Active) => ApiError::new(
            StatusCode::NOT_FOUND,
            "invitation_invalid",
            "this invitation link is not valid; check that you copied all of it, or ask for a new one",
        ),
        Some(InviteStatus::Expired) => ApiError::new(
            StatusCode::GONE,
            "invitation_expired",
            "this invitation has expired; ask the person who invited you for a new one",
        ),
        Some(InviteStatus::Revoked) => ApiError::new(
            StatusCode::GONE,
            "invitation_revoked",
            "this invitation was withdrawn by the room's moderators",
        ),
        Some(InviteStatus::Used) => ApiError::new(
            StatusCode::GONE,
            "invitation_used",
            "this invitation was for one person and has been used already; ask for a new one",
        ),
    }
}

fn too_many(wait_ms: i64) -> ApiError {
    let secs = (wait_ms.max(1) as u64).div_ceil(1000);
    let mut err = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("too many failed attempts; try again in {secs} s"),
    );
    err.retry_after = Some(secs);
    err
}

fn address_key(remote: &str) -> String {
    format!("invite-addr:{remote}")
}

fn invitation_key(id: i64) -> String {
    format!("invite:{id}")
}

/// 429 when this address (or this invitation) has failed too often lately.
async fn throttled(state: &AppState, keys: &[String]) -> ApiResult<()> {
    let limit = i64::from(state.config.login_throttle_after);
    let mut wait = None;
    for key in keys {
        if let Some(ms) = state.store.login_wait(key, limit).await? {
            wait = Some(wait.map_or(ms, |w: i64| w.max(ms)));
        }
    }
    match wait {
        Some(ms) => Err(too_many(ms)),
        None => Ok(()),
    }
}

/// The invitation of a token, or the refusal (an unknown token counts as a failure).
async fn find(state: &AppState, token: &str, remote: &str) -> ApiResult<InvitationRow> {
    let address = address_key(remote);
    throttled(state, std::slice::from_ref(&address)).await?;
    match state.store.invitation_by_token(token).await? {
        Some(inv) => Ok(inv),
        None => {
            state.store.record_login_failure(&address).await?;
            tracing::info!(remote = %remote, "unknown invitation token");
            Err(refusal(None))
        }
    }
}

fn room_ref(room: &Option<RoomRow>, id: RoomId) -> Value {
    json!({"id": id, "name": room.as_ref().map(|r| r.name.clone())})
}

/// `POST /api/v1/invitations/check` `{"token"}` (no session): what the link is for, so
/// the invitation page can ask for what is needed, or say why it cannot be used.
pub async fn check(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CheckBody>,
) -> ApiResult<Json<Value>> {
    let remote = client_addr(&state, &headers, peer);
    let inv = find(&state, &body.token, &remote).await?;
    if inv.status() != InviteStatus::Active {
        return Err(refusal(Some(inv.status())));
    }
    let room = state.store.room(inv.room).await?;
    Ok(Json(json!({
        "room": room_ref(&room, inv.room),
        "role": inv.role.as_str(),
        "password_required": inv.password_hash.is_some(),
        "expires_at": rfc3339(inv.expires_at),
    })))
}

/// A display name fit to show: trimmed, 1 to 100 characters, no control characters.
pub fn clean_display_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        return Err("display_name is required: the name the others will see");
    }
    if name.chars().count() > 100 {
        return Err("display_name must be at most 100 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("display_name must not contain control characters");
    }
    Ok(name.to_string())
}

/// `POST /api/v1/invitations/redeem` `{"token","display_name","password"}` (no session):
/// a guest session for the invitation's room, then `enter` as anyone.
pub async fn redeem(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RedeemBody>,
) -> ApiResult<Response> {
    // Not attempts: nothing is counted.
    let display_name = clean_display_name(&body.display_name).map_err(ApiError::bad_request)?;
    if body
        .password
        .as_ref()
        .is_some_and(|p| p.len() > MAX_PASSWORD_LEN)
    {
        return Err(ApiError::bad_request("password is too long"));
    }
    let web = body.client.as_deref() == Some("web");
    let remote = client_addr(&state, &headers, peer);
    let inv = find(&state, &body.token, &remote).await?;
    if inv.status() != InviteStatus::Active {
        return Err(refusal(Some(inv.status())));
    }
    let keys = [address_key(&remote), invitation_key(inv.id)];
    if let Some(stored) = &inv.password_hash {
        // Room in the hashing queue first: a busy server says so before anything counts.
        let slot = state.hashing.slot()?;
        throttled(&state, &keys).await?;
        let given = body.password.clone().unwrap_or_default();
        if given.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "password_required",
                "this invitation needs its password",
            ));
        }
        if !slot.verify(given, stored.clone()).await? {
            for key in &keys {
                state.store.record_login_failure(key).await?;
            }
            state.metrics.login_failures.inc();
            tracing::info!(remote = %remote, invitation = inv.id, "wrong invitation password");
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong_password",
                "the invitation's password is wrong",
            ));
        }
    }
    let ttl = state.config.session_ttl.as_millis() as i64;
    let client = if web { "web" } else { "api" };
    let mut redeemed = None;
    // A generated login that happens to be taken (48 random bits): try another.
    for _ in 0..3 {
        let login = format!("guest-{}", crate::secret::random_hex(6));
        match state
            .store
            .redeem_invitation(inv.id, &login, &display_name, client, ttl)
            .await?
        {
            Some(r) => {
                redeemed = Some(r);
                break;
            }
            None => {
                // Used up, revoked or expired meanwhile, or the login was taken.
                let now = state.store.invitation(inv.id).await?;
                let status = now.map(|i| i.status());
                if status != Some(InviteStatus::Active) {
                    return Err(refusal(status));
                }
            }
        }
    }
    let Some(redeemed) = redeemed else {
        return Err(ApiError::internal("no free guest login after three tries"));
    };
    for key in &keys {
        state.store.clear_login_failures(key).await?;
    }
    let room = state.store.room(inv.room).await?;
    tracing::info!(room = %inv.room, invitation = inv.id, guest = %redeemed.user.login, remote = %remote, "invitation redeemed");
    let mut out = json!({
        "user": super::session::user_json(&redeemed.user),
        "room": room_ref(&room, inv.room),
        "moderator": redeemed.grant.moderator,
        "expires_at": rfc3339(redeemed.grant.expires_at),
    });
    if web {
        let mut response = Json(out).into_response();
        response.headers_mut().insert(
            header::SET_COOKIE,
            super::session::session_cookie(&state, &redeemed.sid),
        );
        Ok(response)
    } else {
        out["sid"] = json!(redeemed.sid);
        Ok(Json(out).into_response())
    }
}

/// `GET /invite/{token}`: the invitation page of the web UI (the token stays in the
/// address for the page's script; the shell sends no referrer).
pub async fn invite_page(Path(_token): Path<String>) -> Response {
    crate::web::shell()
}
