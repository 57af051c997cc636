//! A node: `run(listener, config, shutdown)` starts one, so tests can run several in
//! one process on port 0 and stop them cleanly.

use crate::cluster::events::EventBus;
use crate::cluster::{self, NodeIdentity};
use crate::config::Config;
use crate::files::SharedStorage;
use crate::ids::NodeId;
use crate::media::MediaHandle;
use crate::metrics::Metrics;
use crate::rooms::LiveRooms;
use crate::store::{Role, Store};
use crate::{api, auth, ops, secret, signal, web};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Everything one node owns. Passed explicitly; there is no global state.
pub struct Node {
    pub config: Config,
    pub store: Store,
    pub node: NodeIdentity,
    pub rooms: LiveRooms,
    pub metrics: Metrics,
    pub events: EventBus,
    pub storage: SharedStorage,
    /// The threads that hash passwords (bounded memory and CPU).
    pub hashing: auth::password::HashPool,
    /// The SFU of the rooms this node hosts; None only if it could not start.
    pub media: Option<MediaHandle>,
    /// Cancelled when the node starts shutting down.
    pub shutdown: CancellationToken,
    /// Room tasks, connections and jobs, awaited at shutdown.
    pub tasks: TaskTracker,
}

pub type AppState = Arc<Node>;

/// How long shutdown waits for rooms and connections to say goodbye.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a node until `shutdown` resolves; then stops accepting, tells clients, removes
/// this node's connection rows and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    let url = config
        .public_url
        .clone()
        .unwrap_or_else(|| default_public_url(local));
    let storage = SharedStorage::open(&config.storage)?;
    let store = Store::open(&config.database_url).await?;
    bootstrap_admin(&store, &config).await?;

    let id = NodeId(config.node_id);
    let instance = secret::random_hex(16);
    store
        .register_node(
            id,
            config.node_name.as_deref(),
            &url,
            &instance,
            cluster::VERSION,
        )
        .await?;
    let name = store
        .server(id)
        .await?
        .map(|s| s.name)
        .unwrap_or_else(|| config.node_name());
    let node = NodeIdentity {
        id,
        name,
        url,
        instance,
    };
    if let Err(e) = storage.claim_cluster_id(&store).await {
        tracing::error!(storage = %storage.description, error = %e, "cannot write to the shared storage");
    }
    let events_from = store.last_event_seq().await?;
    // Rows this node left behind when it last stopped abruptly; never other nodes' rows.
    let stale = store.delete_node_connections(node.id).await?;
    store.delete_node_room_hosts(node.id).await?;
    if stale > 0 {
        tracing::info!(
            stale,
            "removed this node's connection rows from a previous run"
        );
    }

    let shutdown_token = CancellationToken::new();
    let tasks = TaskTracker::new();
    let metrics = Metrics::default();
    let media = start_media(&config, local, &metrics, &shutdown_token, &tasks).await?;

    let state: AppState = Arc::new(Node {
        config,
        store,
        node,
        rooms: LiveRooms::default(),
        metrics,
        events: EventBus::default(),
        storage,
        media: Some(media),
        hashing: auth::password::pool(),
        shutdown: shutdown_token,
        tasks,
    });
    crate::maintenance::check_storage(&state).await;
    cluster::spawn_heartbeat(state.clone());
    cluster::events::spawn(state.clone(), events_from);
    crate::maintenance::spawn(state.clone());

    let app = router(state.clone());
    tracing::info!(
        node = %state.node.id, name = %state.node.name, url = %state.node.url,
        listen = %local, database = %crate::store::redact_url(&state.config.database_url),
        "Convene is serving"
    );
    let token = state.shutdown.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: closing connections");
        token.cancel();
    };
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .await?;

    state.shutdown.cancel();
    state.tasks.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, state.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close in time");
    }
    state.store.delete_node_connections(state.node.id).await?;
    state.store.delete_node_room_hosts(state.node.id).await?;
    state
        .store
        .mark_node_stopped(state.node.id, &state.node.instance)
        .await?;
    state.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Binds the media port and starts the SFU task.
async fn start_media(
    config: &Config,
    http: SocketAddr,
    metrics: &Metrics,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> anyhow::Result<MediaHandle> {
    let bind = SocketAddr::new(http.ip(), config.media_port);
    let advertised = match config.media_public_ip {
        Some(ip) => vec![ip],
        None if !http.ip().is_unspecified() => vec![http.ip()],
        None => {
            let mut ips: Vec<std::net::IpAddr> = primary_ip().into_iter().collect();
            ips.push(std::net::Ipv4Addr::LOCALHOST.into());
            tracing::info!(?ips, "media_public_ip not set; advertising these addresses");
            ips
        }
    };
    crate::media::start(
        bind,
        advertised,
        config.ice_servers.clone(),
        metrics.media.clone(),
        shutdown.clone(),
        tasks,
    )
    .await
}

/// The address of the interface holding the default route. Connecting a UDP socket
/// sends nothing; it only asks the kernel which source address it would use.
fn primary_ip() -> Option<std::net::IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

fn default_public_url(local: SocketAddr) -> String {
    if local.ip().is_unspecified() || local.ip().is_loopback() {
        format!("http://localhost:{}", local.port())
    } else {
        format!("http://{local}")
    }
}

pub fn router(state: AppState) -> Router {
    let shell = || async { web::shell() };
    Router::new()
        .merge(api::routes())
        .route("/ws", get(signal::ws_handler))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/", get(shell))
        .route("/login", get(shell))
        .route("/rooms", get(shell))
        .route("/admin", get(shell))
        .route("/admin/{page}", get(shell))
        .merge(web::asset_routes())
        .method_not_allowed_fallback(api::method_not_allowed)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            api::observe,
        ))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    crate::error::ApiError::not_found("page")
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked");
    crate::error::ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; the server log has details",
    )
    .into_response()
}

/// Creates the account `admin` when the database has no accounts.
async fn bootstrap_admin(store: &Store, config: &Config) -> anyhow::Result<()> {
    if store.count_users().await? > 0 {
        return Ok(());
    }
    let (password, generated) = match &config.admin_password {
        Some(pw) => (pw.clone(), false),
        None => (secret::random_password(), true),
    };
    let hash = auth::password::hash(&auth::password::pool(), password.clone()).await?;
    if store
        .create_user("admin", &hash, Role::Admin, "Administrator")
        .await?
        .is_some()
    {
        if generated {
            // Shown once, so the operator can sign in; set CONVENE_ADMIN_PASSWORD to avoid it.
            tracing::warn!(
                "created the account `admin` with the generated password {password} — sign in and change it"
            );
        } else {
            tracing::info!(
                "created the account `admin` with the password from the `admin_password` setting"
            );
        }
    }
    Ok(())
}
