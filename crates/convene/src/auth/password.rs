//! Argon2id password hashing, run off the async threads because it is slow on purpose.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Longest password accepted: bounds the hashing work an anonymous request can cause.
pub const MAX_PASSWORD_LEN: usize = 256;
pub const MIN_PASSWORD_LEN: usize = 8;

fn hasher() -> Argon2<'static> {
    // OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

pub fn verify_blocking(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// How many hashes may run at once on a node. Each takes 19 MiB and a core for tens of
/// milliseconds; unbounded, a burst of logins (or of failed guesses) took a node to
/// gigabytes of memory that the allocator then kept.
pub const CONCURRENT_HASHES: usize = 2;

/// A node's limit on concurrent hashing.
pub fn limiter() -> tokio::sync::Semaphore {
    tokio::sync::Semaphore::new(CONCURRENT_HASHES)
}

pub async fn hash(limit: &tokio::sync::Semaphore, password: String) -> anyhow::Result<String> {
    let _permit = limit.acquire().await?;
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

pub async fn verify(limit: &tokio::sync::Semaphore, password: String, stored: String) -> bool {
    let Ok(_permit) = limit.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify_blocking(&password, &stored))
        .await
        .unwrap_or(false)
}

/// A hash that matches no password, verified against when the login is unknown so
/// that unknown and known logins take the same time.
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Qb1Ks0WjJW3iHCg6L7c3zKpG3Tq3Ep9m3KIVVh4VHeE"
}

/// Checks a new password against the policy, with a message for the user.
pub fn check_policy(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!(
            "the password must have at most {MAX_PASSWORD_LEN} bytes"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let h = hash_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_blocking("correct horse", &h));
        assert!(!verify_blocking("wrong horse", &h));
        assert!(!verify_blocking("correct horse", "not a hash"));
        assert!(!verify_blocking("anything", dummy_hash()));
        assert!(
            PasswordHash::new(dummy_hash()).is_ok(),
            "dummy hash must parse to cost the same"
        );
    }

    #[test]
    fn policy() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("long enough").is_ok());
        assert!(check_policy(&"x".repeat(300)).is_err());
    }
}
