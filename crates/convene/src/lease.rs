//! This node's hosting lease, as seen from inside the process.
//!
//! The database holds the truth (`servers.lease_until`, `servers.lease_epoch`); this
//! value holds a local deadline that is never later than the database's: it is taken
//! from the moment a renewal was *sent*, and the database computes its expiry from the
//! moment it *ran* the statement. So when the database says the lease ran out, this
//! node has already stopped serving — without having to reach the database.
//!
//! Fencing: once the deadline passes, the lease is fenced; room tasks watch for it
//! (`fences()`), close their connections with 4010 and stop. A later renewal under the
//! same epoch ends the fence (no one can have taken the rooms: that needs the epoch to
//! move); a renewal that finds the epoch moved means the node was declared dead.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// The lease length (the database's, in [`crate::store::LEASE_MS`]).
pub const LEASE: Duration = Duration::from_millis(crate::store::LEASE_MS as u64);
/// Taken off the local deadline for clock-rate differences between node and database.
const MARGIN: Duration = Duration::from_millis(250);
/// A judge must have renewed without a break for this long before it declares another
/// node dead: every node that can reach the database has renewed by then.
pub const JUDGE_AFTER: Duration = Duration::from_millis(2 * crate::store::LEASE_MS as u64);

#[derive(Debug)]
struct State {
    epoch: i64,
    /// Serving is allowed until then (and while not fenced).
    valid_until: Instant,
    fenced: bool,
    /// Start of the current run of successful renewals.
    healthy_since: Option<Instant>,
    /// When this node last started serving (start-up, or the end of a fence).
    serving_since: Instant,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct LeaseCounters {
    /// Times this node stopped serving because its lease ran out.
    pub fences: AtomicU64,
    /// Times this node found itself declared dead (its epoch moved on).
    pub losses: AtomicU64,
    /// Other nodes this node declared dead.
    pub evictions: AtomicU64,
}

#[derive(Debug)]
pub struct Lease {
    state: Mutex<State>,
    /// Bumped at every fence; room tasks watch it.
    fence_tx: watch::Sender<u64>,
    /// Wakes the watchdog when the deadline moves.
    moved: Notify,
    pub counters: LeaseCounters,
}

impl Lease {
    /// A lease under `epoch`, renewed by a request sent at `sent_at`.
    pub fn new(epoch: i64, sent_at: Instant) -> Lease {
        Lease {
            state: Mutex::new(State {
                epoch,
                valid_until: sent_at + LEASE - MARGIN,
                fenced: false,
                healthy_since: Some(sent_at),
                serving_since: sent_at,
            }),
            fence_tx: watch::channel(0).0,
            moved: Notify::new(),
            counters: LeaseCounters::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// May this node serve its rooms' live state right now?
    pub fn is_valid(&self) -> bool {
        let s = self.lock();
        !s.fenced && Instant::now() < s.valid_until
    }

    pub fn epoch(&self) -> i64 {
        self.lock().epoch
    }

    /// Whether this node has renewed without a break for long enough to judge others.
    pub fn may_judge(&self) -> bool {
        self.lock()
            .healthy_since
            .is_some_and(|t| t.elapsed() >= JUDGE_AFTER)
    }

    /// How long this node has been serving without a fence.
    pub fn serving_for(&self) -> Duration {
        let s = self.lock();
        if s.fenced {
            Duration::ZERO
        } else {
            s.serving_since.elapsed()
        }
    }

    /// Changes at every fence.
    pub fn fences(&self) -> watch::Receiver<u64> {
        self.fence_tx.subscribe()
    }

    pub fn is_fenced(&self) -> bool {
        self.lock().fenced
    }

    /// A renewal sent at `sent_at` succeeded. Returns false if the lease is fenced: the
    /// caller must clean up and then call [`Lease::unfence`].
    pub(crate) fn renewed(&self, sent_at: Instant) -> bool {
        let mut s = self.lock();
        s.healthy_since.get_or_insert(sent_at);
        if s.fenced {
            return false;
        }
        s.valid_until = sent_at + LEASE - MARGIN;
        drop(s);
        self.moved.notify_one();
        true
    }

    /// A renewal failed or timed out: this node cannot judge others for a while.
    pub(crate) fn renewal_failed(&self) {
        self.lock().healthy_since = None;
    }

    /// Stops serving: room tasks close their connections. True if newly fenced.
    pub fn fence(&self, why: &str) -> bool {
        let mut s = self.lock();
        if s.fenced {
            return false;
        }
        s.fenced = true;
        drop(s);
        self.counters.fences.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(why, "lease fenced: closing this node's rooms");
        self.fence_tx.send_modify(|n| *n += 1);
        self.moved.notify_one();
        true
    }

    /// Serving again under `epoch`, renewed by a request sent at `sent_at`.
    pub(crate) fn unfence(&self, epoch: i64, sent_at: Instant) {
        let mut s = self.lock();
        s.epoch = epoch;
        s.fenced = false;
        s.valid_until = sent_at + LEASE - MARGIN;
        s.healthy_since.get_or_insert(sent_at);
        s.serving_since = Instant::now();
        drop(s);
        tracing::info!(epoch, "lease held again: serving");
        self.moved.notify_one();
    }

    /// Fences the lease at its deadline, without waiting for anything else.
    pub(crate) async fn watchdog(&self, shutdown: tokio_util::sync::CancellationToken) {
        loop {
            let (deadline, fenced) = {
                let s = self.lock();
                (s.valid_until, s.fenced)
            };
            if !fenced && Instant::now() >= deadline {
                self.fence("the lease could not be renewed in time");
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.moved.notified() => {}
                _ = tokio::time::sleep_until(deadline), if !fenced => {}
            }
        }
    }

    /// The Prometheus lines of the lease.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let c = &self.counters;
        for (name, help, v) in [
            (
                "convene_lease_fences_total",
                "Times this node stopped serving because its lease could not be renewed.",
                c.fences.load(Ordering::Relaxed),
            ),
            (
                "convene_lease_losses_total",
                "Times this node found it had been declared dead and dropped its rooms.",
                c.losses.load(Ordering::Relaxed),
            ),
            (
                "convene_evictions_total",
                "Other nodes this node declared dead (their rooms freed for placement).",
                c.evictions.load(Ordering::Relaxed),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        let valid = self.is_valid() as u8;
        let _ = writeln!(
            out,
            "# HELP convene_lease_valid 1 while this node holds a valid hosting lease.\n\
             # TYPE convene_lease_valid gauge\nconvene_lease_valid {valid}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn expires_fences_and_comes_back() {
        let lease = std::sync::Arc::new(Lease::new(3, Instant::now()));
        let mut fences = lease.fences();
        assert!(lease.is_valid());
        let token = tokio_util::sync::CancellationToken::new();
        let dog = tokio::spawn({
            let lease = lease.clone();
            let token = token.clone();
            async move { lease.watchdog(token).await }
        });
        // Renewed a second later: the deadline moves with it.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(lease.renewed(Instant::now()));
        tokio::time::advance(LEASE - Duration::from_millis(500)).await;
        assert!(lease.is_valid());
        // No renewal: past the deadline the watchdog fences by itself.
        tokio::time::advance(Duration::from_secs(1)).await;
        tokio::time::timeout(Duration::from_secs(1), fences.changed())
            .await
            .expect("fenced")
            .unwrap();
        assert!(!lease.is_valid() && lease.is_fenced());
        // A renewal while fenced does not end the fence by itself.
        assert!(!lease.renewed(Instant::now()));
        assert!(!lease.is_valid());
        lease.unfence(3, Instant::now());
        assert!(lease.is_valid() && lease.epoch() == 3);
        token.cancel();
        dog.await.unwrap();
        assert_eq!(lease.counters.fences.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn judges_only_after_a_long_healthy_run() {
        let lease = Lease::new(1, Instant::now());
        assert!(!lease.may_judge());
        tokio::time::advance(JUDGE_AFTER).await;
        assert!(lease.may_judge());
        lease.renewal_failed();
        assert!(!lease.may_judge());
        lease.renewed(Instant::now());
        tokio::time::advance(JUDGE_AFTER - Duration::from_millis(1)).await;
        assert!(!lease.may_judge());
    }
}
