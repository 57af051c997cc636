//! Accounts (administrators and webservice integrations), and the directory of people
//! that room creators choose members from. No one gives a role, or changes an account,
//! above their own (`policy::may_grant_role`, `may_manage_account`).

use super::session::user_json;
use super::{Id, JsonBody};
use crate::auth::{Caller, Manager, account, password, policy};
use crate::cluster::events::Event;
use crate::error::{ApiError, ApiResult};
use crate::ids::UserId;
use crate::node::AppState;
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

/// A role an administrator may give: not `guest`, which only an invitation makes.
fn parse_role(role: &str) -> ApiResult<Role> {
    match Role::parse(role) {
        Some(Role::Guest) => Err(ApiError::bad_request(
            "guest accounts come only from invitations; the role must be admin, organiser, user or webservice",
        )),
        Some(role) => Ok(role),
        None => Err(ApiError::bad_request(
            "role must be admin, organiser, user or webservice",
        )),
    }
}

fn check_display_name(name: &str) -> ApiResult<()> {
    account::check_display_name(name).map_err(ApiError::bad_request)
}

/// Refuses a role above the caller's own (a webservice account making an admin).
fn may_grant(caller: &Caller, role: Role) -> ApiResult<()> {
    if policy::may_grant_role(caller, role) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "the role {} is above your own ({}): only an administrator can create or promote administrators",
        role.as_str(),
        caller.user.role.as_str()
    )))
}

/// The account must exist (404) and be no more powerful than the caller's (403): a
/// webservice account cannot change or delete an administrator.
async fn may_manage(state: &AppState, caller: &Caller, id: UserId) -> ApiResult<()> {
    let target = state
        .store
        .user(id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if policy::may_manage_account(caller, target.role) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "this account's role ({}) is above your own ({}): only an administrator can change or delete an administrator",
        target.role.as_str(),
        caller.user.role.as_str()
    )))
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
    may_grant(&caller, role)?;
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
    may_manage(&state, &caller, id).await?;
    if let Some(role) = role {
        may_grant(&caller, role)?;
    }
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
    if let Some(role) = role
        && user.enabled
    {
        // Rights follow at once, in the rooms the account is in, on every node.
        let event = Event::RoleChanged { user: id, role };
        if let Err(e) = state.events.publish(&event).await {
            tracing::error!(error = %e, "cannot publish a role change");
        }
    }
    if !user.enabled {
        close_user_everywhere(&state, id, "your account was disabled").await;
    } else if hash.is_some() {
        close_user_everywhere(
            &state,
            id,
            "an administrator set a new password for your account; sign in again",
        )
        .await;
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
    may_manage(&state, &caller, id).await?;
    // Refuse before disconnecting anyone; the delete checks again, atomically.
    if state.store.is_last_enabled_admin(id).await? {
        return Err(account_error(AccountError::LastAdmin));
    }
    close_user_everywhere(&state, id, "your account was deleted").await;
    state.store.delete_user(id).await.map_err(account_error)?;
    tracing::info!(user = %id, by = %caller.user.login, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/people`: the enabled accounts one may make members or moderators of a
/// room (id, login, display name; no roles), for whoever creates rooms.
pub async fn people(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Value>>> {
    if !policy::may_list_people(&caller) {
        return Err(ApiError::forbidden(
            "only organisers and administrators choose room members",
        ));
    }
    let users = state.store.list_users().await?;
    Ok(Json(
        users
            .iter()
            .filter(|u| u.enabled && matches!(u.role, Role::Admin | Role::Organiser | Role::User))
            .map(|u| serde_json::json!({"id": u.id, "login": u.login, "display_name": u.display_name}))
            .collect(),
    ))
}

/// Closes the user's live connections on every node (4003 with `reason`), and waits
/// (briefly) for it.
pub(super) async fn close_user_everywhere(state: &AppState, user: UserId, reason: &str) {
    let event = Event::UserClosed {
        user,
        reason: reason.to_string(),
    };
    if let Err(e) = state.events.publish(&event).await {
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
