//! Argon2id password hashing, run off the async threads because it is slow on purpose.

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Longest password accepted: bounds the hashing work an anonymous request can cause.
pub const MAX_PASSWORD_LEN: usize = 256;
pub const MIN_PASSWORD_LEN: usize = 8;

fn params() -> Params {
    // OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
    Params::new(19 * 1024, 2, 1, Some(32)).expect("valid argon2 parameters")
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// Hashes with the caller's working memory (a pool thread's, reused for every hash).
fn hash_with(memory: &mut Vec<Block>, password: &str) -> anyhow::Result<String> {
    let params = params();
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    memory.resize(params.block_count(), Block::default());
    let mut out = [0u8; 32];
    hasher()
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, &mut memory[..])
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .map_err(|e| anyhow::anyhow!("params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Verifies with the caller's working memory when the stored hash uses this node's
/// parameters; any other hash is verified the ordinary way.
fn verify_with(memory: &mut Vec<Block>, password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let ours = Params::try_from(&parsed).is_ok_and(|p| {
        let mine = params();
        p.m_cost() == mine.m_cost() && p.t_cost() == mine.t_cost() && p.p_cost() == mine.p_cost()
    });
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    if parsed.algorithm != argon2::ARGON2ID_IDENT || !ours || expected.len() != 32 {
        return verify_blocking(password, stored);
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    memory.resize(params().block_count(), Block::default());
    let mut out = [0u8; 32];
    if hasher()
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, &mut memory[..])
        .is_err()
    {
        return false;
    }
    // Output's equality is constant-time.
    Output::new(&out).is_ok_and(|o| o == expected)
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

/// A job gets the thread's working memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

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
                // Allocated at the first hash, then reused: at most HASH_THREADS × 19 MiB.
                let mut memory: Vec<Block> = Vec::new();
                loop {
                    // The lock is held only while taking a job, not while hashing.
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(&mut memory),
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
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move |memory: &mut Vec<Block>| {
                let _ = tx.send(f(memory));
            }))
            .map_err(|_| anyhow::anyhow!("too many sign-ins at once; try again"))?;
        Ok(rx.await?)
    }
}

pub async fn hash(pool: &HashPool, password: String) -> anyhow::Result<String> {
    pool.run(move |memory| hash_with(memory, &password)).await?
}

pub async fn verify(pool: &HashPool, password: String, stored: String) -> bool {
    pool.run(move |memory| verify_with(memory, &password, &stored))
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
    fn pooled_hashing_is_standard_argon2id() {
        let mut memory = Vec::new();
        let h = hash_with(&mut memory, "correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        // Interoperable both ways with the ordinary implementation.
        assert!(verify_blocking("correct horse", &h));
        assert!(verify_with(&mut memory, "correct horse", &h));
        assert!(!verify_with(&mut memory, "wrong horse", &h));
        let ordinary = hash_blocking("battery staple").unwrap();
        assert!(verify_with(&mut memory, "battery staple", &ordinary));
        let other_params = {
            let p = Params::new(8 * 1024, 1, 1, None).unwrap();
            let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            a.hash_password(b"old", &salt).unwrap().to_string()
        };
        assert!(
            verify_with(&mut memory, "old", &other_params),
            "older parameters still verify"
        );
        assert!(!verify_with(&mut memory, "old", "garbage"));
    }

    #[test]
    fn policy() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("long enough").is_ok());
        assert!(check_policy(&"x".repeat(300)).is_err());
    }
}
