//! A node: `run(listener, config, shutdown)` starts one, so tests can run several in
//! one process on port 0 and stop them cleanly.

use crate::cluster::events::EventBus;
use crate::cluster::{self, NodeIdentity};
use crate::config::Config;
use crate::files::SharedStorage;
use crate::ids::NodeId;
use crate::media::MediaHandle;
use crate::metrics::Metrics;
use crate::node::{AppState, Node};
use crate::protocol::ServerRef;
use crate::rooms::{LiveRooms, RoomContext};
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
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long the last database writes at stop may take.
const GOODBYE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs a node until `shutdown` resolves; then stops accepting, tells clients, removes
/// this node's connection rows and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_observed(listener, config, shutdown, |_| {}).await
}

/// What a node shows of itself once started, to whoever embeds it (a test, say).
pub struct Started {
    /// The node's long-running tasks, as `/readyz` reports them.
    pub health: crate::health::Health,
}

/// [`run`], calling `on_start` once the node is wired and before it serves.
pub async fn run_observed(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_start: impl FnOnce(Started),
) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    let url = config
        .public_url
        .clone()
        .unwrap_or_else(|| default_public_url(local, config.tls.is_some()));
    let tls = match config.tls {
        Some(_) => Some(open_tls(&config)?),
        None => None,
    };
    let storage = SharedStorage::open(&config.storage)?;
    let store = Store::open(&config.database_url).await?;
    bootstrap_admin(&store, &config).await?;

    let id = NodeId(config.node_id);
    let instance = secret::random_hex(16);
    let registered_at = tokio::time::Instant::now();
    let epoch = store
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
    let metrics = Arc::new(Metrics::default());
    let media = start_media(&config, local, &metrics, &shutdown_token, &tasks).await?;
    let lease = Arc::new(crate::lease::Lease::new(epoch, registered_at));
    let rooms = LiveRooms::new(RoomContext {
        store: store.clone(),
        server: ServerRef {
            id: node.id,
            name: node.name.clone(),
        },
        room_grace: config.room_grace,
        chat_history: config.chat_history,
        rate_limits: config.rate_limits,
        media: Some(media.clone()),
        storage: storage.clone(),
        lease: lease.clone(),
        metrics: metrics.clone(),
        shutdown: shutdown_token.clone(),
        tasks: tasks.clone(),
    });

    let health = crate::health::Health::with([media.health()]);
    let events = Arc::new(EventBus::new(store.clone()));
    let cluster = cluster::ClusterContext {
        store: store.clone(),
        node: node.clone(),
        node_name: config.node_name.clone(),
        database_url: config.database_url.clone(),
        rooms: rooms.clone(),
        lease: lease.clone(),
        health: health.clone(),
        events: events.clone(),
        storage: storage.clone(),
        cleanup_interval: config.cleanup_interval,
        recording_retention: config.recording_retention,
        room_grace: config.room_grace,
        media_running: true,
        shutdown: shutdown_token.clone(),
        tasks: tasks.clone(),
    };
    let state: AppState = Arc::new(Node {
        config,
        store,
        health,
        node,
        rooms,
        metrics,
        events,
        storage,
        media: Some(media),
        hashing: auth::password::pool(),
        shutdown: shutdown_token,
        tasks,
        lease,
        url_warnings: Default::default(),
        exports: Default::default(),
        cluster: cluster.clone(),
    });
    crate::maintenance::check_storage(&cluster).await;
    cluster::spawn_lease(cluster.clone());
    cluster::events::spawn(cluster.clone(), events_from);
    crate::maintenance::spawn(cluster);
    crate::recordings::process::spawn(
        crate::recordings::process::Processor {
            store: state.store.clone(),
            storage: state.storage.clone(),
            node: state.node.id.0,
        },
        &state.tasks,
        state.shutdown.clone(),
    );
    crate::files::convert::spawn(
        crate::files::convert::Converter {
            store: state.store.clone(),
            storage: state.storage.clone(),
            node: state.node.id.0,
            limits: state.config.conversion,
            tools: crate::files::render::Tools::detect(),
        },
        &state.tasks,
        state.shutdown.clone(),
    );

    on_start(Started {
        health: state.health.clone(),
    });
    let app = router(state.clone());
    tracing::info!(
        node = %state.node.id, name = %state.node.name, url = %state.node.url,
        listen = %local, database = %crate::store::redact_url(&state.config.database_url),
        "Convene is serving"
    );
    let token = state.shutdown.clone();
    // HTTP connections, rooms and WebSockets share one deadline: shutdown_grace after the signal.
    let stopping = Arc::new(std::sync::OnceLock::new());
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            let _ = stopping.set(tokio::time::Instant::now());
            tracing::info!("shutting down: closing connections");
            token.cancel();
        }
    };
    let limits = crate::http_server::HttpLimits::from_config(&state.config);
    let grace = limits.shutdown_grace;
    let endpoints = endpoints(&state, listener, app, tls).await?;
    crate::http_server::serve_all(endpoints, limits, state.metrics.http.clone(), signal).await?;

    state.shutdown.cancel();
    state.tasks.close();
    let deadline = stopping
        .get()
        .copied()
        .unwrap_or_else(tokio::time::Instant::now)
        + grace;
    if tokio::time::timeout_at(deadline, state.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within shutdown_grace");
    }
    // Bounded too: with the database away, the rows go when the lease runs out (a
    // survivor declares this node dead), and the process still exits.
    let goodbye = async {
        state.store.delete_node_connections(state.node.id).await?;
        state.store.delete_node_room_hosts(state.node.id).await?;
        state
            .store
            .mark_node_stopped(state.node.id, &state.node.instance)
            .await
    };
    match tokio::time::timeout(GOODBYE_DEADLINE, goodbye).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot remove this node's rows at stop"),
        Err(_) => tracing::warn!("removing this node's rows at stop timed out"),
    }
    let _ = tokio::time::timeout(GOODBYE_DEADLINE, state.store.close()).await;
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

/// The URL of this node's row in `servers` (Administration → Servers) when
/// `public_url` is not set; the URLs handed to clients are built from their requests
/// instead (`crate::public_url`). Listening on every address, the address of the
/// default route's interface, which other computers can most likely reach.
pub fn default_public_url(local: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let ip = local.ip();
    if ip.is_loopback() {
        format!("{scheme}://localhost:{}", local.port())
    } else if ip.is_unspecified() {
        match primary_ip() {
            Some(primary) => format!("{scheme}://{}", SocketAddr::new(primary, local.port())),
            None => format!("{scheme}://localhost:{}", local.port()),
        }
    } else {
        format!("{scheme}://{local}")
    }
}

/// The certificate store of `tls`, its fingerprint logged.
fn open_tls(config: &Config) -> anyhow::Result<Arc<crate::tls::CertStore>> {
    let names = crate::tls::self_signed_names(config, primary_ip());
    let store = crate::tls::CertStore::open(config, &names)?;
    let self_signed = config.tls == Some(crate::config::TlsSource::SelfSigned);
    if self_signed {
        tracing::info!(
            cert = %store.cert_path().display(),
            fingerprint = %store.fingerprint(),
            "HTTPS with a self-signed certificate: browsers warn until told to trust it; \
             compare the SHA-256 fingerprint they show with this one"
        );
    } else {
        tracing::info!(
            cert = %store.cert_path().display(),
            fingerprint = %store.fingerprint(),
            "HTTPS certificate in use (SIGHUP reads the files again)"
        );
    }
    Ok(store)
}

/// The node's listener (HTTPS when configured) and the redirect listener if asked for.
async fn endpoints(
    state: &AppState,
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<crate::tls::CertStore>>,
) -> anyhow::Result<Vec<crate::http_server::Endpoint>> {
    use crate::http_server::Endpoint;
    let local = listener.local_addr()?;
    let Some(store) = tls else {
        return Ok(vec![Endpoint {
            listener,
            app,
            tls: None,
        }]);
    };
    // Also for the self-signed pair, so that a `reload` never kills the node.
    #[cfg(unix)]
    crate::tls::reload_on_sighup(store.clone(), state.shutdown.clone(), &state.tasks)?;
    let mut endpoints = vec![Endpoint {
        listener,
        app,
        tls: Some(store.acceptor()?),
    }];
    if let Some(port) = state.config.http_redirect_port {
        let at = SocketAddr::new(local.ip(), port);
        let redirect = TcpListener::bind(at).await.map_err(|e| {
            anyhow::anyhow!("setting `http_redirect_port`: cannot listen on {at}: {e}")
        })?;
        tracing::info!(listen = %at, to_port = local.port(), "plain HTTP redirects to HTTPS");
        endpoints.push(Endpoint {
            listener: redirect,
            app: crate::http_server::redirect_app(local.port(), state.config.public_url.as_deref()),
            tls: None,
        });
    }
    Ok(endpoints)
}

pub fn router(state: AppState) -> Router {
    let shell = || async { web::shell() };
    Router::new()
        .merge(api::routes())
        .merge(crate::openmeetings::router(&state.config))
        .route("/ws", get(signal::ws_handler))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/", get(shell))
        .route("/login", get(shell))
        .route("/rooms", get(shell))
        .route("/my-rooms", get(shell))
        .route("/profile", get(shell))
        .route("/admin", get(shell))
        .route("/admin/{page}", get(shell))
        .merge(web::asset_routes())
        .method_not_allowed_fallback(api::method_not_allowed)
        .fallback(not_found)
        .layer(axum::middleware::from_fn(api::csrf::guard))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::openmeetings::frame_policy,
        ))
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

/// Unknown paths. A browser navigating to one (GET or HEAD accepting `text/html`, outside `/api/`, `/assets/`
/// and `/ws`) gets the UI's shell with status 404, whose router shows the not-found page; API clients and
/// everything else get the JSON 404.
async fn not_found(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let path = uri.path();
    let navigation = (method == axum::http::Method::GET || method == axum::http::Method::HEAD)
        && !(path == "/api"
            || path.starts_with("/api/")
            || path.starts_with("/assets/")
            || path == "/ws")
        && headers
            .get_all(axum::http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/html"));
    if navigation {
        let mut page = web::shell();
        *page.status_mut() = StatusCode::NOT_FOUND;
        return page;
    }
    crate::error::ApiError::not_found("page").into_response()
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

/// The file the generated password of `admin` is written to, in the data directory.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password.txt";

/// Creates the account `admin` when no enabled administrator exists (a new database,
/// or one where `convene user add` made only other accounts before the first start).
/// A generated password goes to [`ADMIN_PASSWORD_FILE`] (mode 0600), never to the log;
/// the log says where, and so does standard error when the log filter hides warnings.
async fn bootstrap_admin(store: &Store, config: &Config) -> anyhow::Result<()> {
    let users = store.list_users().await?;
    if users.iter().any(|u| u.role == Role::Admin && u.enabled) {
        return Ok(());
    }
    let (password, file) = match &config.admin_password {
        Some(pw) => (pw.clone(), None),
        None => {
            let password = secret::random_password();
            let path = std::path::absolute(config.data_dir.join(ADMIN_PASSWORD_FILE))
                .unwrap_or_else(|_| config.data_dir.join(ADMIN_PASSWORD_FILE));
            std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the data directory {} for the admin password file: {e}",
                    config.data_dir.display()
                )
            })?;
            crate::tls::write_private(&path, format!("{password}\n").as_bytes())?;
            (password, Some(path))
        }
    };
    let hash = auth::password::hash(&auth::password::pool(), password).await?;
    let created = store
        .create_user("admin", &hash, Role::Admin, "Administrator")
        .await?
        .is_some();
    match (created, file) {
        (true, Some(path)) => {
            let text = format!(
                "created the account `admin` with a generated password, written to the file {} \
                 (readable only by this system user): sign in with it, change it, then delete the file",
                path.display()
            );
            if tracing::enabled!(tracing::Level::WARN) {
                tracing::warn!(file = %path.display(), "{text}");
            } else {
                eprintln!("convene: {text}");
            }
        }
        (true, None) => tracing::info!(
            "created the account `admin` with the password from the `admin_password` setting"
        ),
        (false, file) => {
            // Another node made it meanwhile, or the login is taken by a non-administrator.
            if let Some(path) = file {
                let _ = std::fs::remove_file(path);
            }
            let admin = store.user_by_login("admin").await?;
            if !admin.is_some_and(|u| u.role == Role::Admin && u.enabled) {
                tracing::error!(
                    "there is no enabled administrator, and the login `admin` belongs to an account \
                     that is not one: make an administrator with \
                     `convene user add LOGIN --role admin` (password on standard input)"
                );
            }
        }
    }
    Ok(())
}
