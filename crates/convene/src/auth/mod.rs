//! Who is calling: sessions from the cookie (web UI) or a Bearer token (API), and
//! typed extractors so a handler's signature shows who may call it.

pub mod account;
pub mod login;
pub mod password;

use crate::error::ApiError;
use crate::server::AppState;
use crate::store::{Role, UserRow};
use axum::extract::FromRequestParts;
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some((sid, via)) = session_id(parts) else {
            return Err(ApiError::unauthorized("sign in first"));
        };
        let Some(session) = state.store.session_user(&sid).await? else {
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
        Ok(Caller {
            user: session.user,
            sid,
            via,
        })
    }
}

impl FromRequestParts<AppState> for Manager {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        match caller.user.role {
            Role::Admin => Ok(Manager(caller)),
            Role::Webservice if caller.via == Via::Bearer => Ok(Manager(caller)),
            _ => Err(ApiError::forbidden("administrators only")),
        }
    }
}
