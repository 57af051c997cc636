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

/// Threads that hash passwords on a node. Each hash takes 19 MiB and a core for tens
/// of milliseconds. Run on the shared blocking pool, a burst of logins spread them over
/// dozens of threads, each keeping its own allocator arena with 19 MiB in it: a node
/// that had signed in a thousand users sat at 700 MiB. Two dedicated threads reuse two
/// arenas, and bound the CPU an anonymous burst of guesses can take.
pub const HASH_THREADS: usize = 2;
/// Hashes waiting for a thread before further logins are refused as busy.
const HASH_QUEUE: usize = 4096;

type Job = Box<dyn FnOnce() + Send>;

/// A node's password-hashing threads; they end when the pool is dropped.
pub struct HashPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

/// Starts a pool of [`HASH_THREADS`] threads.
pub fn pool() -> HashPool {
    let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(HASH_QUEUE);
    let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
    for i in 0..HASH_THREADS {
        let queue = queue.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("convene-hash-{i}"))
            .spawn(move || {
                loop {
                    // The lock is held only while taking a job, not while hashing.
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a password hashing thread");
        }
    }
    HashPool { jobs }
}

impl HashPool {
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| anyhow::anyhow!("too many sign-ins at once; try again"))?;
        Ok(rx.await?)
    }
}

pub async fn hash(pool: &HashPool, password: String) -> anyhow::Result<String> {
    pool.run(move || hash_blocking(&password)).await?
}

pub async fn verify(pool: &HashPool, password: String, stored: String) -> bool {
    pool.run(move || verify_blocking(&password, &stored))
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
