//! Latency samples and their percentiles.

use serde::Serialize;
use std::time::Duration;

/// Percentiles of a set of latencies, in milliseconds (nearest-rank method).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// Summarises samples given in microseconds.
    pub fn from_micros(samples: &[u64]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        let rank = |p: f64| {
            let n = sorted.len();
            let idx = ((p / 100.0) * n as f64).ceil() as usize;
            sorted[idx.clamp(1, n) - 1]
        };
        let sum: u128 = sorted.iter().map(|&v| u128::from(v)).sum();
        Percentiles {
            count: sorted.len(),
            mean_ms: sum as f64 / sorted.len() as f64 / 1000.0,
            p50_ms: ms(rank(50.0)),
            p90_ms: ms(rank(90.0)),
            p99_ms: ms(rank(99.0)),
            max_ms: ms(*sorted.last().expect("not empty")),
        }
    }

    /// One line for people: `p50 1.2 ms, p90 …`.
    pub fn line(&self) -> String {
        if self.count == 0 {
            return "no samples".into();
        }
        format!(
            "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (mean {:.1} ms, n={})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms, self.mean_ms, self.count
        )
    }
}

/// A duration in microseconds, saturating.
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let samples: Vec<u64> = (1..=100).map(|v| v * 1000).collect();
        let p = Percentiles::from_micros(&samples);
        assert_eq!(p.count, 100);
        assert_eq!(p.p50_ms, 50.0);
        assert_eq!(p.p90_ms, 90.0);
        assert_eq!(p.p99_ms, 99.0);
        assert_eq!(p.max_ms, 100.0);
        assert!((p.mean_ms - 50.5).abs() < 1e-9);
    }

    #[test]
    fn small_and_empty() {
        assert_eq!(Percentiles::from_micros(&[]).count, 0);
        let one = Percentiles::from_micros(&[2500]);
        assert_eq!((one.p50_ms, one.p99_ms, one.max_ms), (2.5, 2.5, 2.5));
    }
}
