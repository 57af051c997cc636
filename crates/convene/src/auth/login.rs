//! Password login with throttling per account and per address.
//!
//! After `login_throttle_after` failures, each further attempt must wait
//! 2^(failures − limit) seconds (capped at 5 minutes) since the last failure,
//! whatever the password: guessing slows to a crawl, a user who mistyped waits seconds.

use super::password;
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::UserRow;
use axum::http::StatusCode;

const MAX_DELAY_SECS: i64 = 300;

/// Checks the password; on success returns the enabled account.
pub async fn authenticate(
    state: &AppState,
    login: &str,
    password_text: &str,
    remote: &str,
) -> Result<UserRow, ApiError> {
    let keys = [
        format!("login:{}", login.to_lowercase()),
        format!("addr:{remote}"),
    ];
    for key in &keys {
        if let Some(t) = state.store.throttle_state(key).await? {
            let over = t.failures - i64::from(state.config.login_throttle_after);
            if over >= 0 {
                let wait_ms = (1i64 << over.min(20)).min(MAX_DELAY_SECS) * 1000;
                if t.since_last_ms < wait_ms {
                    let secs = ((wait_ms - t.since_last_ms) as u64).div_ceil(1000);
                    let mut err = ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too_many_attempts",
                        format!("too many failed sign-in attempts; try again in {secs} s"),
                    );
                    err.retry_after = Some(secs);
                    return Err(err);
                }
            }
        }
    }
    let found = state.store.user_with_hash(login).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, password::dummy_hash().to_string()),
    };
    let ok = password::verify(&state.hashing, password_text.to_string(), hash).await;
    match user {
        Some(user) if ok => {
            if !user.enabled {
                return Err(ApiError::forbidden("this account is disabled"));
            }
            for key in &keys {
                state.store.clear_login_failures(key).await?;
            }
            Ok(user)
        }
        _ => {
            for key in &keys {
                state.store.record_login_failure(key).await?;
            }
            state.metrics.login_failures.inc();
            tracing::info!(login = %login, remote = %remote, "failed sign-in");
            Err(ApiError::unauthorized("wrong login or password"))
        }
    }
}
