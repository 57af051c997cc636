//! Who is calling: sessions from the cookie (web UI) or a Bearer token (API), and
//! typed extractors so a handler's signature shows who may call it.

pub mod account;
pub mod login;
pub mod password;
pub mod policy;

use crate::error::ApiError;
use crate::ids::RoomId;
use crate::store::{GuestGrant, Role, Store, UserRow};
use axum::extract::{FromRef, FromRequestParts, MatchedPath};
use axum::http::Method;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;

pub const COOKIE_NAME: &str = "convene_sid";

/// How the caller presented the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cookie,
    Bearer,
}

/// Any signed-in caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserRow,
    pub sid: String,
    pub via: Via,
    /// For a guest (role `guest`): its invitation's room and rights, still valid.
    pub guest: Option<GuestGrant>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }
}

/// A caller allowed to administer: an admin, or a webservice account through the API.
#[derive(Debug, Clone)]
pub struct Manager(pub Caller);

/// The session id in the request, Bearer first.
pub fn session_id(parts: &Parts) -> Option<(String, Via)> {
    if let Some(value) = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(token) = value.strip_prefix("Bearer ")
    {
        return Some((token.trim().to_string(), Via::Bearer));
    }
    cookie_value(parts, COOKIE_NAME).map(|v| (v, Via::Cookie))
}

pub fn cookie_value(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The extractors need only the store (any state that hands one out), not the node.
impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Store: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Some((sid, via)) = session_id(parts) else {
            return Err(ApiError::unauthorized("sign in first"));
        };
        let store = Store::from_ref(state);
        let Some(session) = store.session_user(&sid).await? else {
            return Err(ApiError::unauthorized(
                "your session has expired or is not valid; sign in again",
            ));
        };
        // A webservice account is for integrations: never through the browser's cookie.
        if via == Via::Cookie && session.user.role == Role::Webservice {
            return Err(ApiError::forbidden(
                "webservice accounts may use the API only",
            ));
        }
        let guest = if session.user.role == Role::Guest {
            let Some(grant) = store.guest_grant(session.user.id).await? else {
                return Err(ApiError::unauthorized(
                    "your invitation has ended; ask for a new one",
                ));
            };
            if !guest_may_call(parts, grant.room) {
                return Err(ApiError::forbidden(
                    "guests may only enter the room they were invited to",
                ));
            }
            Some(grant)
        } else {
            None
        };
        Ok(Caller {
            user: session.user,
            sid,
            via,
            guest,
        })
    }
}

/// What a guest may call, the one rule for all of the API: its account (`me`, `logout`),
/// and entering and the lobby of the room of its invitation (`{id}` is that room).
/// Everything else is 403, whatever the handler would decide.
const GUEST_ROUTES: &[(Method, &str)] = &[
    (Method::GET, "/api/v1/me"),
    (Method::POST, "/api/v1/logout"),
    (Method::POST, "/api/v1/rooms/{id}/enter"),
    (Method::GET, "/api/v1/rooms/{id}/lobby"),
    // The room's files: listed and downloaded (`api/files.rs` decides the rest).
    (Method::GET, "/api/v1/rooms/{id}/files"),
    (Method::GET, "/api/v1/rooms/{id}/boards"),
    (Method::GET, "/api/v1/rooms/{id}/boards/{board}/export"),
    (Method::GET, "/api/v1/rooms/{id}/files/{file}/content"),
    (Method::GET, "/api/v1/rooms/{id}/files/{file}/pages"),
    (Method::GET, "/api/v1/rooms/{id}/files/{file}/pages/{n}"),
    (Method::GET, "/api/v1/rooms/{id}/files/{file}/thumbnail"),
];

fn guest_may_call(parts: &Parts, room: RoomId) -> bool {
    let Some(template) = parts.extensions.get::<MatchedPath>().map(|p| p.as_str()) else {
        return false;
    };
    if !GUEST_ROUTES
        .iter()
        .any(|(method, path)| *method == parts.method && *path == template)
    {
        return false;
    }
    // Every `{id}` in the template is the guest's room.
    let wanted = room.0.to_string();
    let path = parts.uri.path();
    let (mut have, mut want) = (path.split('/'), template.split('/'));
    loop {
        match (have.next(), want.next()) {
            (None, None) => return true,
            (Some(h), Some("{id}")) if h == wanted => {}
            (Some(_), Some("{id}")) => return false,
            (Some(_), Some(_)) => {}
            _ => return false,
        }
    }
}

impl<S> FromRequestParts<S> for Manager
where
    S: Send + Sync,
    Store: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if policy::is_manager(&caller) {
            Ok(Manager(caller))
        } else {
            Err(ApiError::forbidden("administrators only"))
        }
    }
}
