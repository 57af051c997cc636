//! Accounts (administrators and webservice integrations).

use super::session::user_json;
use super::{Id, JsonBody};
use crate::auth::{Manager, password};
use crate::cluster::events::{Event, publish};
use crate::error::{ApiError, ApiResult};
use crate::ids::UserId;
use crate::server::AppState;
use crate::store::Role;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    login: String,
    password: String,
    #[serde(default = "default_role")]
    role: String,
    #[serde(default)]
    display_name: Option<String>,
}

fn default_role() -> String {
    "user".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// A login is 1–64 characters of letters, digits and `._@-`.
pub fn check_login(login: &str) -> Result<(), ApiError> {
    let ok = !login.is_empty()
        && login.len() <= 64
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "login must be 1 to 64 characters: letters, digits, '.', '_', '@' or '-'",
        ))
    }
}

fn parse_role(role: &str) -> ApiResult<Role> {
    Role::parse(role).ok_or_else(|| ApiError::bad_request("role must be admin, user or webservice"))
}

fn check_display_name(name: &str) -> ApiResult<()> {
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "display_name must be at most 100 characters, without control characters",
        ));
    }
    Ok(())
}

pub async fn list(State(state): State<AppState>, _: Manager) -> ApiResult<Json<Vec<Value>>> {
    let users = state.store.list_users().await?;
    Ok(Json(users.iter().map(user_json).collect()))
}

pub async fn create(
    State(state): State<AppState>,
    Manager(caller): Manager,
    JsonBody(body): JsonBody<CreateUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_login(&body.login)?;
    let role = parse_role(&body.role)?;
    password::check_policy(&body.password).map_err(ApiError::bad_request)?;
    let display_name = body.display_name.unwrap_or_else(|| body.login.clone());
    check_display_name(&display_name)?;
    let hash = password::hash(body.password).await?;
    let user = state
        .store
        .create_user(&body.login, &hash, role, display_name.trim())
        .await?
        .ok_or_else(|| ApiError::conflict(format!("the login {:?} is taken", body.login)))?;
    tracing::info!(user = %user.login, role = role.as_str(), by = %caller.user.login, "user created");
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}

pub async fn show(State(state): State<AppState>, _: Manager, Id(id): Id) -> ApiResult<Json<Value>> {
    let user = state
        .store
        .user(UserId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(user_json(&user)))
}

/// Refuses a change that would leave no enabled administrator.
async fn keep_an_admin(
    state: &AppState,
    id: UserId,
    role: Option<Role>,
    enabled: Option<bool>,
    deleting: bool,
) -> ApiResult<()> {
    let Some(current) = state.store.user(id).await? else {
        return Ok(());
    };
    let loses_admin = current.role == Role::Admin
        && current.enabled
        && (deleting || role.is_some_and(|r| r != Role::Admin) || enabled == Some(false));
    if loses_admin {
        let admins = state
            .store
            .list_users()
            .await?
            .iter()
            .filter(|u| u.role == Role::Admin && u.enabled)
            .count();
        if admins <= 1 {
            return Err(ApiError::conflict("this is the last enabled administrator"));
        }
    }
    Ok(())
}

pub async fn update(
    State(state): State<AppState>,
    Manager(caller): Manager,
    Id(id): Id,
    JsonBody(body): JsonBody<UpdateUser>,
) -> ApiResult<Json<Value>> {
    let id = UserId(id);
    let role = body.role.as_deref().map(parse_role).transpose()?;
    if let Some(name) = &body.display_name {
        check_display_name(name)?;
    }
    let hash = match body.password {
        Some(pw) => {
            password::check_policy(&pw).map_err(ApiError::bad_request)?;
            Some(password::hash(pw).await?)
        }
        None => None,
    };
    keep_an_admin(&state, id, role, body.enabled, false).await?;
    let user = state
        .store
        .update_user(
            id,
            role,
            body.display_name.as_deref().map(str::trim),
            body.enabled,
            hash.as_deref(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if hash.is_some() || body.enabled == Some(false) {
        state.store.delete_user_sessions(id).await?;
    }
    if !user.enabled {
        close_user_everywhere(&state, id, "your account was disabled").await;
    }
    tracing::info!(user = %user.login, by = %caller.user.login, "user updated");
    Ok(Json(user_json(&user)))
}

pub async fn delete(
    State(state): State<AppState>,
    Manager(caller): Manager,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let id = UserId(id);
    if id == caller.user.id {
        return Err(ApiError::bad_request("you cannot delete your own account"));
    }
    keep_an_admin(&state, id, None, None, true).await?;
    close_user_everywhere(&state, id, "your account was deleted").await;
    if !state.store.delete_user(id).await? {
        return Err(ApiError::not_found("user"));
    }
    tracing::info!(user = %id, by = %caller.user.login, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Closes the user's live connections on every node, and waits (briefly) for it.
async fn close_user_everywhere(state: &AppState, user: UserId, reason: &str) {
    let event = Event::UserClosed {
        user,
        reason: reason.to_string(),
    };
    if let Err(e) = publish(state, &event).await {
        tracing::error!(error = %e, "cannot publish user closure");
        return;
    }
    for _ in 0..60 {
        match state.store.list_connections().await {
            Ok(rows) if rows.iter().any(|c| c.user_id == user) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            _ => return,
        }
    }
}
