//! Argon2id password hashing, run off the async threads because it is slow on purpose.

use crate::error::ApiError;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::http::StatusCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
/// Hashes waiting for a thread before further ones are refused as busy: a few seconds
/// of work for two threads. A deeper queue only makes people wait longer than they
/// would to retry (4096 used to mean minutes).
pub const HASH_QUEUE: usize = 256;
/// What a busy pool tells clients to wait before retrying, in seconds.
pub const BUSY_RETRY_AFTER: u64 = 1;

/// The queue length of pools made by [`pool`]; see [`set_queue_len_for_tests`].
static POOL_QUEUE: AtomicUsize = AtomicUsize::new(HASH_QUEUE);

/// Test hook: the queue length of the pools [`pool`] makes from now on, in this
/// process (a test's node cannot be handed a pool of its own).
#[doc(hidden)]
pub fn set_queue_len_for_tests(len: usize) {
    POOL_QUEUE.store(len, Ordering::Relaxed);
}

/// Why a hash could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every thread is busy and the queue is full: the caller should retry shortly.
    /// Says nothing about the password.
    #[error("too many sign-ins at once; try again in a moment")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "the server is busy; try again in a moment",
                );
                e.retry_after = Some(BUSY_RETRY_AFTER);
                e
            }
            HashError::Failed(e) => ApiError::from(e),
        }
    }
}

/// A job gets the thread's working memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// A node's password-hashing threads; they end when the pool is dropped.
pub struct HashPool {
    jobs: std::sync::mpsc::SyncSender<Job>,
    /// Hashes queued or running, against `capacity`.
    taken: Arc<AtomicUsize>,
    capacity: usize,
}

/// Room for one hash in a pool, taken before anything else is done for a request
/// (a sign-in counts its attempt only once it is sure to be checked).
/// Released when the hash is done, or when dropped unused.
pub struct Slot<'a> {
    pool: &'a HashPool,
    taken: Taken,
}

/// One unit of a pool's capacity, given back on drop.
struct Taken(Arc<AtomicUsize>);

impl Drop for Taken {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Starts a pool of [`HASH_THREADS`] threads and the configured queue.
pub fn pool() -> HashPool {
    pool_with(HASH_THREADS, POOL_QUEUE.load(Ordering::Relaxed))
}

/// Starts a pool of `threads` threads (at least one) with room for `queue` waiting hashes.
pub fn pool_with(threads: usize, queue: usize) -> HashPool {
    let threads = threads.max(1);
    let capacity = threads + queue;
    // Never full while a slot is held: at most `capacity` jobs exist at once.
    let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(capacity);
    let queue = Arc::new(std::sync::Mutex::new(queue));
    for i in 0..threads {
        let queue = queue.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("convene-hash-{i}"))
            .spawn(move || {
                // Allocated at the first hash, then reused: at most threads × 19 MiB.
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
    HashPool {
        jobs,
        taken: Arc::new(AtomicUsize::new(0)),
        capacity,
    }
}

impl HashPool {
    /// Room for one hash, or `Busy` when the queue is full.
    pub fn slot(&self) -> Result<Slot<'_>, HashError> {
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .map_err(|_| HashError::Busy)?;
        Ok(Slot {
            pool: self,
            taken: Taken(self.taken.clone()),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        self.slot()?.run(f).await
    }
}

impl Slot<'_> {
    async fn run<T: Send + 'static>(
        self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let Slot { pool, taken } = self;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The slot goes with the job: it is free once the hash is done, even if the
        // request that asked for it has gone away.
        let job: Job = Box::new(move |memory: &mut Vec<Block>| {
            let out = f(memory);
            // Free before the answer, so whoever gets it may hash again at once.
            drop(taken);
            let _ = tx.send(out);
        });
        pool.jobs.try_send(job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => HashError::Busy,
            std::sync::mpsc::TrySendError::Disconnected(_) => {
                HashError::Failed(anyhow::anyhow!("the password hashing threads stopped"))
            }
        })?;
        rx.await
            .map_err(|_| HashError::Failed(anyhow::anyhow!("a password hashing thread failed")))
    }

    /// Verifies in this slot; `Ok(false)` only for a wrong password (or unusable hash).
    pub async fn verify(self, password: String, stored: String) -> Result<bool, HashError> {
        self.run(move |memory| verify_with(memory, &password, &stored))
            .await
    }
}

pub async fn hash(pool: &HashPool, password: String) -> Result<String, HashError> {
    Ok(pool
        .run(move |memory| hash_with(memory, &password))
        .await??)
}

/// Verifies a password; `Busy` is not a verdict on it.
pub async fn verify(pool: &HashPool, password: String, stored: String) -> Result<bool, HashError> {
    pool.slot()?.verify(password, stored).await
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

    #[tokio::test]
    async fn a_full_pool_is_busy_not_wrong() {
        let pool = pool_with(1, 1);
        let stored = hash(&pool, "right password".into()).await.unwrap();
        let first = pool.slot().unwrap();
        let second = pool.slot().unwrap();
        assert!(matches!(pool.slot(), Err(HashError::Busy)));
        assert!(matches!(
            verify(&pool, "right password".into(), stored.clone()).await,
            Err(HashError::Busy)
        ));
        // An unused slot gives its room back.
        drop(second);
        assert!(
            first
                .verify("right password".into(), stored.clone())
                .await
                .unwrap()
        );
        assert!(!verify(&pool, "wrong".into(), stored).await.unwrap());
        assert_eq!(pool.taken.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn policy() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("long enough").is_ok());
        assert!(check_policy(&"x".repeat(300)).is_err());
    }
}
