//! Cross-site request forgery: a state-changing request that carries the session
//! cookie must come from this origin. Browsers say where a request comes from
//! (`Sec-Fetch-Site`, or at least `Origin` on a POST); a page on another site — or on
//! another port of the same host, which is "same-site" but not "same-origin" — is
//! refused with 403. Bearer-token callers (integrations) are not exposed to CSRF: a
//! browser never adds that header by itself.

use crate::error::ApiError;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn guard(req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && has_session_cookie(req.headers()) && !bearer(req.headers()) {
        if let Err(why) = same_origin(req.headers()) {
            tracing::info!(why, path = %req.uri().path(), "refused a cross-origin request");
            return ApiError::forbidden(format!(
                "cross-origin request refused ({why}); use the Convene web page or a Bearer token"
            ))
            .into_response();
        }
    }
    next.run(req).await
}

fn has_session_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| {
            pair.trim()
                .split_once('=')
                .is_some_and(|(k, _)| k == crate::auth::COOKIE_NAME)
        })
}

fn bearer(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "))
}

/// Ok when the browser says the request comes from this origin, or says nothing (a
/// client that is not a browser, which CSRF cannot drive).
pub fn same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.to_str().unwrap_or("") {
            "same-origin" | "none" => Ok(()),
            _ => Err("Sec-Fetch-Site is not same-origin"),
        };
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let authority = origin
        .parse::<axum::http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()));
    match authority {
        Some(a) if !host.is_empty() && a == host.to_ascii_lowercase() => Ok(()),
        _ => Err("Origin does not match Host"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_this_origin_passes() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(same_origin(&headers(&[("sec-fetch-site", "none")])).is_ok());
        // Another port of the same host is same-site, not same-origin.
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-site")])).is_err());
        assert!(same_origin(&headers(&[("sec-fetch-site", "cross-site")])).is_err());
        let h = [
            ("origin", "http://meet.example:5080"),
            ("host", "meet.example:5080"),
        ];
        assert!(same_origin(&headers(&h)).is_ok());
        let h = [
            ("origin", "http://meet.example:8000"),
            ("host", "meet.example:5080"),
        ];
        assert!(same_origin(&headers(&h)).is_err());
        assert!(same_origin(&headers(&[("origin", "null"), ("host", "a")])).is_err());
        // No word from a browser: not a browser.
        assert!(same_origin(&headers(&[("host", "a")])).is_ok());
    }
}
