//! `{prefix}/hash?secure=HASH[&language=N]`: the browser's entry from an integration.
//!
//! 1. The hash is read, not spent: unknown, used or expired → an "invalid hash" page.
//! 2. The room's node is found (placement, as `POST /api/v1/rooms/{id}/enter` does). When
//!    it is another node, the browser goes to that node's `/hash` with the same query, the
//!    hash still unspent (OpenMeetings' OM-2203: hashes opened on the wrong node).
//! 3. On the room's node the hash is spent (one conditional statement: single use even when
//!    two nodes race), the external person's account made or updated, made a member of the
//!    room (a moderator of it when the hash says so, else not), a browser session started
//!    (a new session id: no fixation) and the browser sent to `/room/{id}`.

use super::dto::language_tag;
use super::transport::parse_pairs;
use crate::cluster::placement::{Judge, host_for_room};
use crate::node::AppState;
use crate::store::Role;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// How many times a browser is passed on to another node before this one lets it in
/// anyway (placement agrees across nodes, so one hop is the rule; this bounds a race).
const MAX_HOPS: u32 = 3;

const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/// A small page saying why the link does not work.
fn refusal(status: StatusCode, state: &AppState, why: &str) -> Response {
    let frames = if state.config.frame_ancestors.is_empty() {
        "'none'".to_string()
    } else {
        state.config.frame_ancestors.join(" ")
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Convene</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1 id=\"om-hash-refused\">\
         This link does not work (invalid hash)</h1><p>{why}</p>\
         <p>Go back and open the meeting again.</p></body></html>"
    );
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("{PAGE_CSP}; frame-ancestors {frames}")) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// The browser session's cookie: `SameSite=None; Secure` under HTTPS, so that it works in a
/// cross-site iframe (an LMS page); over plain HTTP `SameSite=Lax` (a browser drops a
/// `SameSite=None` cookie that is not `Secure`).
fn cookie(state: &AppState, sid: &str) -> Option<HeaderValue> {
    let same_site = if crate::public_url::cookies_secure(&state.config) {
        "None; Secure"
    } else {
        "Lax"
    };
    HeaderValue::from_str(&format!(
        "{}={sid}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={}",
        crate::auth::COOKIE_NAME,
        state.config.session_ttl.as_secs()
    ))
    .ok()
}

fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The hash is in this page's address: never sent on as a referrer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match enter(&state, &headers, query.as_deref().unwrap_or("")).await {
        Ok(r) => no_store(r),
        Err(e) => {
            tracing::warn!(error = %e, "openmeetings hash page: database error");
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                &state,
                "The server could not answer in time; try again.",
            )
        }
    }
}

async fn enter(state: &AppState, headers: &HeaderMap, raw: &str) -> sqlx::Result<Response> {
    let query = parse_pairs(raw);
    if let Some(invitation) = query
        .get("invitation")
        .filter(|t| crate::secret::plausible_token(t))
    {
        // `room/hash` invitations are Convene's invitation links.
        return Ok(Redirect::to(&format!("/invite/{invitation}")).into_response());
    }
    let Some(secure) = query.get("secure").map(|s| s.trim()) else {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            state,
            "The link has no hash.",
        ));
    };
    let gone = || {
        refusal(
            StatusCode::FORBIDDEN,
            state,
            "It was used already, or it expired.",
        )
    };
    let Some(hash) = state.store.om_peek_hash(secure).await? else {
        return Ok(gone());
    };
    if !hash.usable {
        return Ok(gone());
    }
    let Some(room_id) = hash.room else {
        return Ok(refusal(
            StatusCode::NOT_FOUND,
            state,
            "Recordings cannot be played from this server.",
        ));
    };
    let Some(room) = state.store.room(room_id).await? else {
        return Ok(gone());
    };
    if state
        .store
        .om_room_meta(room.id)
        .await?
        .is_some_and(|m| m.closed)
    {
        return Ok(refusal(StatusCode::FORBIDDEN, state, "The room is closed."));
    }
    let hops: u32 = query.get("hop").and_then(|h| h.parse().ok()).unwrap_or(0);
    let judge = Judge {
        node: state.node.id,
        may_judge: state.lease.may_judge(),
    };
    let placed = tokio::time::timeout(
        std::time::Duration::from_secs(4),
        host_for_room(&state.store, room.id, judge),
    )
    .await;
    let host = match placed {
        Ok(Ok(host)) => host,
        _ => {
            return Ok(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                state,
                "No server can host the room right now; try again shortly.",
            ));
        }
    };
    if host.id != state.node.id && hops < MAX_HOPS {
        let mut next: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "hop")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        next.push(("hop".into(), (hops + 1).to_string()));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(next)
            .finish();
        let to = format!(
            "{}{}/hash?{encoded}",
            host.url.trim_end_matches('/'),
            state.config.openmeetings_prefix
        );
        tracing::info!(room = %room.id, node = %host.id, "openmeetings hash: sending the browser to the room's node");
        return Ok(Redirect::to(&to).into_response());
    }
    // On the room's node: spend it.
    let Some(hash) = state.store.om_spend_hash(secure).await? else {
        return Ok(gone());
    };
    let user = state.store.om_upsert_external_user(&hash.profile).await?;
    if !user.enabled || matches!(user.role, Role::Admin | Role::Webservice) {
        tracing::warn!(user = %user.login, "openmeetings hash for an account that may not use one");
        return Ok(refusal(
            StatusCode::FORBIDDEN,
            state,
            "This account cannot sign in here.",
        ));
    }
    if state
        .store
        .om_grant_room(room.id, user.id, hash.moderator)
        .await?
    {
        let event = crate::cluster::events::Event::RoomChanged { room: room.id };
        state.events.publish(&event).await?;
    }
    if let Some(tag) = query.get("language").and_then(|l| language_tag(l)) {
        state
            .store
            .update_profile(user.id, None, Some(Some(tag)))
            .await?;
    }
    // A browser session already there (another person's, another hash's) ends.
    if let Some(old) = old_session(headers) {
        state.store.delete_session(&old).await?;
    }
    let ttl = state.config.session_ttl.as_millis() as i64;
    let sid = state.store.create_session(user.id, "web", ttl).await?;
    tracing::info!(
        room = %room.id, user = %user.login, moderator = hash.moderator,
        "signed in by an openmeetings hash"
    );
    let mut response = Redirect::to(&format!("/room/{}", room.id)).into_response();
    if let Some(c) = cookie(state, &sid) {
        response.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(response)
}

fn old_session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == crate::auth::COOKIE_NAME)
        .map(|(_, v)| v.to_string())
}
