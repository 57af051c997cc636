//! Operations endpoints: liveness, readiness, Prometheus metrics.

use crate::node::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers, every long-running task works (the media
/// service, the event reader and listener) and the node is not shutting down. A 503
/// names what failed, since when and why.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.store.ping().await;
    let stopping = state.shutdown.is_cancelled();
    let failed = state.health.failed();
    let status = if db && !stopping && failed.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
            "database": db,
            "shutting_down": stopping,
            "failed": failed,
            "components": state.health.reports(),
            "node": {"id": state.node.id, "name": state.node.name},
        })),
    )
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let mut body = state.metrics.render();
            state.lease.render(&mut body);
            body.push_str(&state.health.render_metrics());
            body
        },
    )
}
