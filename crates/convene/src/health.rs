//! The node's long-running tasks and whether they work: each reports through a
//! [`Component`], a supervisor restarts the ones that die (with backoff), and
//! `/readyz` and `/metrics` read the [`Health`] registry that holds them.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// First wait before a dead task is started again; it doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A task that ran this long before dying starts again after the first backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// One long-running part of the node, as its task reports it. Cheap to clone.
#[derive(Clone)]
pub struct Component(Arc<State>);

struct State {
    name: &'static str,
    status: Mutex<Status>,
    restarts: AtomicU64,
    /// The running task, for the test hook.
    task: Mutex<Option<AbortHandle>>,
    /// Test hook: the next restart waits at least until then.
    hold_until: Mutex<Option<Instant>>,
}

#[derive(Clone)]
struct Status {
    up: bool,
    /// Wall-clock milliseconds of the last change.
    since_ms: i64,
    error: Option<String>,
}

/// What `/readyz` shows of one component.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub name: &'static str,
    pub up: bool,
    /// RFC 3339, when it last went up or down.
    pub since: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub restarts: u64,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Component {
    /// A component that is up from now.
    pub fn new(name: &'static str) -> Component {
        Component(Arc::new(State {
            name,
            status: Mutex::new(Status {
                up: true,
                since_ms: now_ms(),
                error: None,
            }),
            restarts: AtomicU64::new(0),
            task: Mutex::new(None),
            hold_until: Mutex::new(None),
        }))
    }

    pub fn name(&self) -> &'static str {
        self.0.name
    }

    pub fn is_up(&self) -> bool {
        self.status().up
    }

    /// Works again (or still); a no-op when already up.
    pub fn up(&self) {
        let mut s = self.0.status.lock().unwrap_or_else(|e| e.into_inner());
        if !s.up {
            tracing::info!(component = self.0.name, "working again");
            *s = Status {
                up: true,
                since_ms: now_ms(),
                error: None,
            };
        }
    }

    /// Does not work, and why. The first report of an outage keeps its time.
    pub fn down(&self, why: impl std::fmt::Display) {
        let mut s = self.0.status.lock().unwrap_or_else(|e| e.into_inner());
        let why = why.to_string();
        if s.up {
            tracing::error!(component = self.0.name, error = %why, "not working");
            s.since_ms = now_ms();
        }
        s.up = false;
        s.error = Some(why);
    }

    pub fn restarts(&self) -> u64 {
        self.0.restarts.load(Ordering::Relaxed)
    }

    pub fn report(&self) -> Report {
        let s = self.status();
        Report {
            name: self.0.name,
            up: s.up,
            since: crate::time::rfc3339(s.since_ms),
            error: s.error,
            restarts: self.restarts(),
        }
    }

    fn status(&self) -> Status {
        self.0
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_task(&self, task: Option<AbortHandle>) {
        *self.0.task.lock().unwrap_or_else(|e| e.into_inner()) = task;
    }

    /// Test hook: aborts the running task, as a crash would end it, and keeps it down
    /// for at least `hold` (so a test can see the outage). False if none is running.
    #[doc(hidden)]
    pub fn kill_for_tests(&self, hold: Duration) -> bool {
        *self.0.hold_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + hold);
        match self.0.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(task) => {
                task.abort();
                true
            }
            None => false,
        }
    }

    fn take_hold(&self) -> Option<Instant> {
        self.0
            .hold_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

type Registry = Mutex<Vec<Component>>;

/// The node's components. Cheap to clone; all clones see the same components.
#[derive(Clone, Default)]
pub struct Health {
    components: Arc<Registry>,
}

impl Health {
    pub fn new() -> Health {
        Health::default()
    }

    /// A registry holding `components` (made before it, like the media service's).
    pub fn with(components: impl IntoIterator<Item = Component>) -> Health {
        let health = Health::new();
        for c in components {
            health.add(c);
        }
        health
    }

    pub fn add(&self, component: Component) {
        let mut list = self.lock();
        list.retain(|c| c.name() != component.name());
        list.push(component);
    }

    /// The component of that name, registered (up) if it is new.
    pub fn component(&self, name: &'static str) -> Component {
        let mut list = self.lock();
        if let Some(c) = list.iter().find(|c| c.name() == name) {
            return c.clone();
        }
        let c = Component::new(name);
        list.push(c.clone());
        c
    }

    pub fn get(&self, name: &str) -> Option<Component> {
        self.lock().iter().find(|c| c.name() == name).cloned()
    }

    /// True when every component works. The heartbeat should publish this, so that
    /// placement skips a node whose media service or event reader is down.
    pub fn ready(&self) -> bool {
        self.lock().iter().all(Component::is_up)
    }

    /// The names of the components that do not work.
    pub fn failed(&self) -> Vec<&'static str> {
        self.lock()
            .iter()
            .filter(|c| !c.is_up())
            .map(Component::name)
            .collect()
    }

    pub fn reports(&self) -> Vec<Report> {
        self.lock().iter().map(Component::report).collect()
    }

    /// `convene_task_restarts_total{task}` and `convene_task_up{task}`, in the
    /// Prometheus text format.
    pub fn render_metrics(&self) -> String {
        use std::fmt::Write;
        let list = self.lock().clone();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP convene_task_restarts_total Restarts of a long-running task after it died.\n# TYPE convene_task_restarts_total counter"
        );
        for c in &list {
            let _ = writeln!(
                out,
                "convene_task_restarts_total{{task=\"{}\"}} {}",
                c.name(),
                c.restarts()
            );
        }
        let _ = writeln!(
            out,
            "# HELP convene_task_up Whether a long-running task works (1) or not (0).\n# TYPE convene_task_up gauge"
        );
        for c in &list {
            let _ = writeln!(
                out,
                "convene_task_up{{task=\"{}\"}} {}",
                c.name(),
                u8::from(c.is_up())
            );
        }
        out
    }

    /// Runs `start(component)` as the task `name`, and again whenever it dies.
    pub fn supervise<F, Fut>(
        &self,
        name: &'static str,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
        start: F,
    ) -> Component
    where
        F: FnMut(Component) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let component = self.component(name);
        supervise(component.clone(), tasks, shutdown, start);
        component
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Component>> {
        self.components.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `start(component)` on `tasks`, and again (after a backoff) whenever it ends
/// before `shutdown`: by an error, a panic or an abort. Each start is counted as a
/// restart but the first; the component is down from the death to the restart.
pub fn supervise<F, Fut>(
    component: Component,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
    mut start: F,
) where
    F: FnMut(Component) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let runner = tasks.clone();
    tasks.spawn(async move {
        let name = component.name();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Instant::now();
            let mut run = runner.spawn(start(component.clone()));
            component.set_task(Some(run.abort_handle()));
            let ended = tokio::select! {
                ended = &mut run => ended,
                _ = shutdown.cancelled() => {
                    // Tasks stop by themselves at shutdown; one that does not is cut off.
                    if tokio::time::timeout(Duration::from_secs(5), &mut run).await.is_err() {
                        run.abort();
                    }
                    return;
                }
            };
            component.set_task(None);
            if shutdown.is_cancelled() {
                return;
            }
            let why = match ended {
                Ok(Ok(())) => "stopped unexpectedly".to_string(),
                Ok(Err(e)) => format!("failed: {e:#}"),
                Err(e) if e.is_panic() => format!("panicked: {}", panic_message(e.into_panic())),
                Err(_) => "was aborted".to_string(),
            };
            component.down(format!("the task {why}"));
            if started.elapsed() >= HEALTHY_RUN {
                backoff = FIRST_BACKOFF;
            }
            let mut resume = Instant::now() + backoff;
            if let Some(hold) = component.take_hold() {
                resume = resume.max(hold);
            }
            tracing::error!(task = name, why = %why, restart_in_ms = resume.saturating_duration_since(Instant::now()).as_millis() as u64, "a long-running task died; restarting it");
            tokio::select! {
                _ = tokio::time::sleep_until(resume) => {}
                _ = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            component.0.restarts.fetch_add(1, Ordering::Relaxed);
            // Running again; the task reports if it still cannot do its work.
            component.up();
        }
    });
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dead_task_is_reported_and_restarted() {
        let health = Health::new();
        let tasks = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let runs = Arc::new(AtomicU64::new(0));
        let counted = runs.clone();
        let stop = shutdown.clone();
        let c = health.supervise("worker", &tasks, shutdown.clone(), move |_| {
            let n = counted.fetch_add(1, Ordering::Relaxed);
            let stop = stop.clone();
            async move {
                if n == 0 {
                    anyhow::bail!("first run fails");
                }
                stop.cancelled().await;
                Ok(())
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.restarts() == 0 {
            assert!(Instant::now() < deadline, "not restarted");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(health.ready(), "up again after the restart");
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        assert!(
            health
                .render_metrics()
                .contains("convene_task_restarts_total{task=\"worker\"} 1")
        );

        // Killed by the hook: down for the hold, then up again.
        assert!(c.kill_for_tests(Duration::from_millis(300)));
        let deadline = Instant::now() + Duration::from_secs(10);
        while health.ready() {
            assert!(Instant::now() < deadline, "never down");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(health.failed(), vec!["worker"]);
        assert!(c.report().error.unwrap().contains("aborted"));
        while c.restarts() < 2 {
            assert!(Instant::now() < deadline, "not restarted");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(health.ready());
        shutdown.cancel();
        tasks.close();
        tokio::time::timeout(Duration::from_secs(10), tasks.wait())
            .await
            .unwrap();
    }

    #[test]
    fn reports_since_when_and_why() {
        let health = Health::new();
        let c = health.component("media");
        c.down("socket closed");
        let r = &health.reports()[0];
        assert_eq!((r.name, r.up), ("media", false));
        assert_eq!(r.error.as_deref(), Some("socket closed"));
        assert!(r.since.ends_with('Z'));
        c.up();
        assert!(health.ready());
        assert!(health.reports()[0].error.is_none());
    }
}
