//! Active-speaker detection from the audio-level RTP header extension (RFC 6464).
//! Levels are −dBov: 0 is loudest, 127 silence. The speaker is whoever has the
//! highest average level over a short window, above a floor, with some hysteresis.

use std::collections::HashMap;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_millis(1500);
/// Quieter than this (in −dBov) counts as silence.
const SILENCE_FLOOR: f32 = 55.0;
/// A challenger must be this many dB louder to take over.
const HYSTERESIS: f32 = 3.0;

#[derive(Default)]
pub struct SpeakerTracker<P> {
    samples: HashMap<P, Vec<(Instant, u8)>>,
    current: Option<P>,
}

impl<P: Clone + Eq + std::hash::Hash> SpeakerTracker<P> {
    pub fn new() -> Self {
        SpeakerTracker {
            samples: HashMap::new(),
            current: None,
        }
    }

    /// Records a level (−dBov, 0..=127).
    pub fn observe(&mut self, who: &P, level: u8, now: Instant) {
        let v = self.samples.entry(who.clone()).or_default();
        v.push((now, level.min(127)));
        if v.len() > 200 {
            v.drain(..100);
        }
    }

    pub fn forget(&mut self, who: &P) {
        self.samples.remove(who);
        if self.current.as_ref() == Some(who) {
            self.current = None;
        }
    }

    /// Re-evaluates at `now`; returns the new speaker when it changed.
    pub fn tick(&mut self, now: Instant) -> Option<Option<P>> {
        let cutoff = now.checked_sub(WINDOW).unwrap_or(now);
        let mut loudness: Vec<(P, f32)> = Vec::new();
        for (who, v) in self.samples.iter_mut() {
            v.retain(|(t, _)| *t >= cutoff);
            if v.is_empty() {
                continue;
            }
            // Average over the window; silence counts, so a cough does not win.
            let avg = v.iter().map(|(_, l)| *l as f32).sum::<f32>() / v.len() as f32;
            if avg < SILENCE_FLOOR {
                loudness.push((who.clone(), avg));
            }
        }
        loudness.sort_by(|a, b| a.1.total_cmp(&b.1));
        let best = loudness.first().cloned();
        let next = match (&self.current, best) {
            (_, None) => None,
            (Some(cur), Some((who, level))) => {
                let cur_level = loudness.iter().find(|(p, _)| p == cur).map(|(_, l)| *l);
                match cur_level {
                    Some(cl) if level > cl - HYSTERESIS => Some(cur.clone()),
                    _ => Some(who),
                }
            }
            (None, Some((who, _))) => Some(who),
        };
        if next != self.current {
            self.current = next.clone();
            Some(next)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loudest_speaker_wins_with_hysteresis() {
        let t0 = Instant::now();
        let mut s = SpeakerTracker::new();
        for i in 0..20 {
            let t = t0 + Duration::from_millis(i * 20);
            s.observe(&"a", 30, t);
            s.observe(&"b", 100, t);
        }
        assert_eq!(s.tick(t0 + Duration::from_millis(400)), Some(Some("a")));
        // b becomes only slightly louder than a: a stays.
        for i in 20..120 {
            let t = t0 + Duration::from_millis(i * 20);
            s.observe(&"a", 30, t);
            s.observe(&"b", 29, t);
        }
        assert_eq!(s.tick(t0 + Duration::from_millis(2400)), None);
        // a falls silent: b takes over; then everyone is silent.
        for i in 120..220 {
            let t = t0 + Duration::from_millis(i * 20);
            s.observe(&"a", 127, t);
            s.observe(&"b", 20, t);
        }
        assert_eq!(s.tick(t0 + Duration::from_millis(4400)), Some(Some("b")));
        assert_eq!(s.tick(t0 + Duration::from_secs(10)), Some(None));
    }
}
