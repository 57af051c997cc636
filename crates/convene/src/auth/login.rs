//! Password login with throttling per account and per address.
//!
//! After `login_throttle_after` failures, each further attempt must wait
//! 2^(failures − limit) seconds (capped at 5 minutes) since the last failure,
//! whatever the password: guessing slows to a crawl, a user who mistyped waits seconds.
//! A full hashing queue is neither a success nor a failure: 503 `busy`, not counted.

use super::password::{self, HashPool};
use crate::error::ApiError;
use crate::store::{Store, UserRow};
use axum::http::StatusCode;

/// What sign-in needs of its node.
pub struct Gate<'a> {
    pub store: &'a Store,
    pub hashing: &'a HashPool,
    /// Failures before attempts are slowed (the `login_throttle_after` setting).
    pub throttle_after: u32,
}

/// Checks the password; on success returns the enabled account. A wrong password is
/// 401 `unauthorized` (the caller counts it).
pub async fn authenticate(
    gate: Gate<'_>,
    login: &str,
    password_text: &str,
    remote: &str,
) -> Result<UserRow, ApiError> {
    let Gate {
        store,
        hashing,
        throttle_after,
    } = gate;
    let account = format!("login:{}", login.to_lowercase());
    let address = format!("addr:{remote}");
    let limit = i64::from(throttle_after);
    // Room in the hashing queue first: a busy server answers "busy, retry" (503)
    // before anything is counted, so it never locks anyone out.
    let slot = hashing.slot()?;
    // Per account, every attempt is counted before the password is checked (a success
    // clears the count), so a burst of parallel guesses at one account cannot slip past
    // the limit. Per address only failures count: a whole school behind one NAT signs
    // in at nine o'clock, in parallel, and must not be refused.
    let waits = [
        store.reserve_login_attempt(&account, limit).await?,
        store.login_wait(&address, limit).await?,
    ];
    if let Some(wait_ms) = waits.into_iter().flatten().max() {
        let secs = (wait_ms as u64).div_ceil(1000);
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("too many failed sign-in attempts; try again in {secs} s"),
        );
        err.retry_after = Some(secs);
        return Err(err);
    }
    let found = store.user_with_hash(login).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, password::dummy_hash().to_string()),
    };
    let ok = slot.verify(password_text.to_string(), hash).await?;
    match user {
        Some(user) if ok => {
            if !user.enabled {
                return Err(ApiError::forbidden("this account is disabled"));
            }
            store.clear_login_failures(&account).await?;
            store.clear_login_failures(&address).await?;
            Ok(user)
        }
        _ => {
            // The account's attempt is already counted by its reservation.
            store.record_login_failure(&address).await?;
            tracing::info!(login = %login, remote = %remote, "failed sign-in");
            Err(ApiError::unauthorized("wrong login or password"))
        }
    }
}
