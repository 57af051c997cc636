//! Per-participant rate limits, part of the room's state machine (`rules.rs`): a token
//! bucket for chat and one for every other frame, per connection. No clock here: each
//! frame comes with the time it was read (`RoomCmd::Request`), so the tests drive time.
//!
//! * A frame over its budget is refused with `error` `rate_limited`; it does nothing.
//! * Each refusal spends one of [`STRIKES`] strikes, which come back at two a second. A participant who keeps sending far past the limit runs out of strikes and is
//!   closed with 1008 and a reason (the others hear `left` with reason `error`).

use super::rules::RoomState;
use crate::ids::ConnectionId;
use crate::protocol::{ClientMsg, CloseFrame, ErrorCode, LeaveReason, close};
use std::collections::HashMap;
use std::time::Instant;

/// Refused frames tolerated in a row before the connection is closed.
pub const STRIKES: u32 = 30;
/// Strikes regained per second: someone refused less often than that is never closed.
const STRIKES_PER_SECOND: f64 = 2.0;

/// One budget: `burst` frames at once, `per_second` sustained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub burst: u32,
    pub per_second: u32,
}

/// The budgets of every participant (settings `chat_burst`, `chat_per_second`,
/// `frame_burst`, `frame_per_second`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `chat` frames.
    pub chat: Budget,
    /// Every other frame: media signalling, hands, moderation, pings.
    pub frames: Budget,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            chat: Budget {
                burst: 10,
                per_second: 2,
            },
            frames: Budget {
                burst: 200,
                per_second: 50,
            },
        }
    }
}

/// A token bucket, full when it starts.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: capacity,
            at: now,
        }
    }

    /// Refills up to `capacity` for the time since the last call, then takes one token
    /// if there is one. A time earlier than the last one refills nothing.
    fn take(&mut self, capacity: f64, per_second: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        if now > self.at {
            self.at = now;
        }
        self.tokens = (self.tokens + elapsed * per_second).min(capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One connection's buckets.
#[derive(Debug, Clone)]
struct Buckets {
    chat: Bucket,
    frames: Bucket,
    strikes: Bucket,
}

/// Every connection's buckets in one room.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    limits: RateLimits,
    by_connection: HashMap<ConnectionId, Buckets>,
}

/// What becomes of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    Refused,
    /// Refused, and the sender is out of strikes.
    Close,
}

impl Limiter {
    pub fn new(limits: RateLimits) -> Limiter {
        Limiter {
            limits,
            by_connection: HashMap::new(),
        }
    }

    /// Takes from `id`'s budget for a frame (`chat` or not) read at `now`.
    pub fn check(&mut self, id: &ConnectionId, chat: bool, now: Instant) -> Verdict {
        let limits = self.limits;
        let b = self
            .by_connection
            .entry(id.clone())
            .or_insert_with(|| Buckets {
                chat: Bucket::full(limits.chat.burst as f64, now),
                frames: Bucket::full(limits.frames.burst as f64, now),
                strikes: Bucket::full(STRIKES as f64, now),
            });
        let (bucket, budget) = if chat {
            (&mut b.chat, limits.chat)
        } else {
            (&mut b.frames, limits.frames)
        };
        if bucket.take(budget.burst as f64, budget.per_second as f64, now) {
            return Verdict::Allowed;
        }
        if b.strikes.take(STRIKES as f64, STRIKES_PER_SECOND, now) {
            Verdict::Refused
        } else {
            Verdict::Close
        }
    }

    /// Forgets connections that `present` says are gone.
    pub fn retain(&mut self, present: impl Fn(&ConnectionId) -> bool) {
        self.by_connection.retain(|id, _| present(id));
    }

    pub fn len(&self) -> usize {
        self.by_connection.len()
    }
}

impl RoomState {
    /// Counts a frame against its sender's budget; false if it must not be handled (over
    /// the limit, or from someone no longer here).
    pub(super) fn within_rate(
        &mut self,
        from: &ConnectionId,
        msg: &ClientMsg,
        at: Instant,
    ) -> bool {
        if self.index(from).is_none() && !self.is_waiting(from) {
            return false;
        }
        // Those who left are forgotten now and then, not at every leave.
        if self.limiter.len() > 2 * (self.members.len() + self.lobby.len()) + 16 {
            let present: std::collections::HashSet<ConnectionId> = self
                .members
                .iter()
                .map(|m| m.view.id.clone())
                .chain(self.lobby.iter().map(|w| w.seat.id.clone()))
                .collect();
            self.limiter.retain(|id| present.contains(id));
        }
        let chat = matches!(msg, ClientMsg::Chat { .. });
        match self.limiter.check(from, chat, at) {
            Verdict::Allowed => true,
            Verdict::Refused => {
                let message = if chat {
                    "you are sending chat messages too fast; this one was not sent"
                } else {
                    "you are sending too many requests; this one was ignored"
                };
                self.error_to(from, ErrorCode::RateLimited, message);
                false
            }
            Verdict::Close => {
                tracing::info!(room = %self.room.id, connection = %from, "closed for sending too fast");
                self.remove(
                    from,
                    LeaveReason::Error,
                    Some(CloseFrame::new(
                        close::POLICY,
                        "too many messages too fast: the rate limit was exceeded again and again",
                    )),
                );
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter() -> Limiter {
        Limiter::new(RateLimits::default())
    }

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_its_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::full(3.0, t0);
        assert!((0..3).all(|_| b.take(3.0, 2.0, t0)));
        assert!(!b.take(3.0, 2.0, t0));
        // Half a second at 2/s: one token.
        assert!(b.take(3.0, 2.0, t0 + Duration::from_millis(500)));
        assert!(!b.take(3.0, 2.0, t0 + Duration::from_millis(500)));
        // An hour later: full, not more.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| b.take(3.0, 2.0, later)).count(), 3);
    }

    #[test]
    fn a_time_that_goes_backwards_refills_nothing() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut b = Bucket::full(1.0, t0);
        assert!(b.take(1.0, 1000.0, t0));
        assert!(!b.take(1.0, 1000.0, t0 - Duration::from_secs(5)));
        assert!(!b.take(1.0, 1000.0, t0));
    }

    #[test]
    fn chat_and_other_frames_have_separate_budgets() {
        let t0 = Instant::now();
        let mut l = limiter();
        let a = ConnectionId("a".into());
        assert!((0..10).all(|_| l.check(&a, true, t0) == Verdict::Allowed));
        assert_eq!(l.check(&a, true, t0), Verdict::Refused);
        assert!((0..200).all(|_| l.check(&a, false, t0) == Verdict::Allowed));
        assert_eq!(l.check(&a, false, t0), Verdict::Refused);
        // Someone else's budget is untouched.
        let b = ConnectionId("b".into());
        assert_eq!(l.check(&b, true, t0), Verdict::Allowed);
    }

    #[test]
    fn strikes_run_out_then_the_sender_is_closed() {
        let t0 = Instant::now();
        let mut l = limiter();
        let a = ConnectionId("a".into());
        for _ in 0..10 {
            l.check(&a, true, t0);
        }
        assert!((0..STRIKES).all(|_| l.check(&a, true, t0) == Verdict::Refused));
        assert_eq!(l.check(&a, true, t0), Verdict::Close);
    }

    #[test]
    fn slightly_over_the_limit_is_refused_but_never_closed() {
        // 3 chat messages a second for ten minutes, against 2/s: a third refused, no close.
        let t0 = Instant::now();
        let mut l = limiter();
        let a = ConnectionId("a".into());
        let mut refused = 0;
        for i in 0..1800u64 {
            match l.check(&a, true, t0 + Duration::from_millis(i * 1000 / 3)) {
                Verdict::Allowed => {}
                Verdict::Refused => refused += 1,
                Verdict::Close => panic!("closed after {i} messages"),
            }
        }
        assert!((550..=610).contains(&refused), "{refused}");
    }

    #[test]
    fn far_past_the_limit_for_long_is_closed() {
        // 10 chat messages a second: 8 refused, 2 strikes back, each second.
        let t0 = Instant::now();
        let mut l = limiter();
        let a = ConnectionId("a".into());
        let closed_at = (0..1000u64)
            .find(|i| l.check(&a, true, t0 + Duration::from_millis(i * 100)) == Verdict::Close)
            .expect("closed");
        // 10 in the burst, then 30 strikes spent at 6 a second: about 6 s.
        assert!((50..80).contains(&closed_at), "{closed_at}");
    }
}
