//! Accounts (administrators and webservice integrations).

use super::session::user_json;
use super::{Id, JsonBody};
use crate::auth::{Manager, account, password};
use crate::cluster::events::{Event, publish};
use crate::error::{ApiError, ApiResult};
use crate::ids::UserId;
use crate::server::AppState;
use crate::store::{AccountError, Role};
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

fn check_login(login: &str) -> ApiResult<()> {
    account::check_login(login).map_err(ApiError::bad_request)
}

fn parse_role(role: &str) -> ApiResult<Role> {
    Role::parse(role).ok_or_else(|| ApiError::bad_request("role must be admin, user or webservice"))
}

fn check_display_name(name: &str) -> ApiResult<()> {
    account::check_display_name(name).map_err(ApiError::bad_request)
}

/// The answer for a change the store refused.
fn account_error(e: AccountError) -> ApiError {
    match e {
        AccountError::NotFound => ApiError::not_found("user"),
        AccountError::LastAdmin => ApiError::conflict("this is the last enabled administrator"),
        AccountError::Db(e) => ApiError::from(e),
    }
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
    let hash = password::hash(&state.hashing, body.password).await?;
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
            Some(password::hash(&state.hashing, pw).await?)
        }
        None => None,
    };
    // The store refuses, atomically, a change that would leave no enabled administrator.
    let user = state
        .store
        .update_user(
            id,
            role,
            body.display_name.as_deref().map(str::trim),
            body.enabled,
            hash.as_deref(),
        )
        .await
        .map_err(account_error)?;
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
    if state.store.user(id).await?.is_none() {
        return Err(ApiError::not_found("user"));
    }
    // Refuse before disconnecting anyone; the delete checks again, atomically.
    if state.store.is_last_enabled_admin(id).await? {
        return Err(account_error(AccountError::LastAdmin));
    }
    close_user_everywhere(&state, id, "your account was deleted").await;
    state.store.delete_user(id).await.map_err(account_error)?;
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
