//! How OpenMeetings clients send their arguments, and the leniency they rely on
//! (`docs/openmeetings-api.md`, reference §1): query strings starting with `&`, forms sent
//! url-encoded or as multipart (even without a `boundary` parameter, and with junk before
//! the first boundary), JSON inside form fields with numbers as strings, ids as numbers,
//! unknown fields, and objects wrapped in their root name or bare.

use super::reply::{Fail, status_only};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{Method, StatusCode, header};
use serde_json::Value;
use std::collections::HashMap;

/// One call's arguments: the query's and the form's, kept apart (a JSON argument that does
/// not parse is a 400 in a form and a 404 in the query, as in OpenMeetings).
#[derive(Debug, Default)]
pub struct OmRequest {
    pub method: Method,
    pub query: HashMap<String, String>,
    pub form: HashMap<String, String>,
}

/// Where an argument came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    Form,
    Query,
}

impl OmRequest {
    /// A text argument: the form's, else the query's.
    pub fn arg(&self, name: &str) -> Option<(&str, From)> {
        self.form
            .get(name)
            .map(|v| (v.as_str(), From::Form))
            .or_else(|| self.query.get(name).map(|v| (v.as_str(), From::Query)))
    }

    /// The session id (always a query parameter; a form field is accepted too).
    pub fn sid(&self) -> Option<&str> {
        self.query
            .get("sid")
            .or_else(|| self.form.get("sid"))
            .map(String::as_str)
    }

    /// A JSON argument (an object), unwrapped from its root name if wrapped. `Ok(None)`
    /// when absent or empty; a value that does not parse is 400 (form) or 404 (query).
    pub fn json(&self, name: &str, root: &str) -> Result<Option<Value>, Fail> {
        let Some((text, from)) = self.arg(name) else {
            return Ok(None);
        };
        if text.trim().is_empty() {
            return Ok(None);
        }
        let refused = || {
            Fail::from(status_only(match from {
                From::Form => StatusCode::BAD_REQUEST,
                From::Query => StatusCode::NOT_FOUND,
            }))
        };
        // Control characters (NUL…) are refused in any string, as everywhere in Convene.
        let value: Value = crate::api::parse_clean(text.as_bytes()).map_err(|_| refused())?;
        let value = unwrap_root(value, root);
        if !value.is_object() {
            return Err(refused());
        }
        Ok(Some(value))
    }
}

impl<S: Send + Sync> FromRequest<S> for OmRequest {
    type Rejection = Fail;

    async fn from_request(req: Request, state: &S) -> Result<Self, Fail> {
        let method = req.method().clone();
        let query = req.uri().query().map(parse_pairs).unwrap_or_default();
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            Fail::from(status_only(
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_REQUEST
                },
            ))
        })?;
        let form = parse_form(&content_type, &body)
            .ok_or_else(|| Fail::from(status_only(StatusCode::BAD_REQUEST)))?;
        Ok(OmRequest {
            method,
            query,
            form,
        })
    }
}

/// `a=1&b=2` pairs; empty pairs (a leading `&`, `&&`) are skipped; the first of a repeated
/// name wins.
pub fn parse_pairs(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        if !k.is_empty() {
            out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
    }
    out
}

/// A form body of any of the encodings clients use; `None` for a multipart body that has
/// no parts at all or a part that is not text.
pub fn parse_form(content_type: &str, body: &[u8]) -> Option<HashMap<String, String>> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(HashMap::new());
    }
    let looks_multipart = essence.starts_with("multipart/")
        || (essence.is_empty() && first_line(body).is_some_and(|l| l.starts_with(b"--")));
    if looks_multipart {
        let boundary = parameter(content_type, "boundary");
        let parts = parse_multipart(body, boundary.as_deref())?;
        let mut out = HashMap::new();
        for part in parts {
            // A file part (an upload's bytes) is not a text argument: skipped here.
            let Ok(text) = String::from_utf8(part.data) else {
                continue;
            };
            out.entry(part.name).or_insert(text);
        }
        return Some(out);
    }
    if essence == "application/x-www-form-urlencoded" || essence.is_empty() {
        return std::str::from_utf8(body).ok().map(parse_pairs);
    }
    // JSON or anything else: no form fields (the arguments are in the query, then).
    Some(HashMap::new())
}

/// A `name=value` (or `name="value"`) parameter of a header value.
fn parameter(header_value: &str, name: &str) -> Option<String> {
    header_value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|v| !v.is_empty())
    })
}

fn first_line(body: &[u8]) -> Option<&[u8]> {
    body.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .find(|l| !l.is_empty())
}

/// One part of a multipart body.
#[derive(Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from >= haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Parses `multipart/form-data`. Without a boundary, the first line starting with `--`
/// gives it (what CXF does). Anything before the first boundary is the preamble, skipped.
/// Line ends may be CRLF or LF. `None` when no boundary can be found or a part is malformed.
pub fn parse_multipart(body: &[u8], boundary: Option<&str>) -> Option<Vec<Part>> {
    let boundary: Vec<u8> = match boundary {
        Some(b) => b.as_bytes().to_vec(),
        None => body
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .find(|l| l.len() > 2 && l.starts_with(b"--"))
            .map(|l| l[2..].to_vec())?,
    };
    if boundary.is_empty() || boundary.len() > 200 {
        return None;
    }
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(&boundary);
    // The first delimiter at the start of a line.
    let mut at = 0;
    let mut start = loop {
        let pos = find(body, &delimiter, at)?;
        if pos == 0 || body[pos - 1] == b'\n' {
            break pos;
        }
        at = pos + 1;
    };
    let mut parts = Vec::new();
    loop {
        let after = start + delimiter.len();
        if body[after..].starts_with(b"--") {
            return Some(parts);
        }
        // The rest of the delimiter's line.
        let content = find(body, b"\n", after)? + 1;
        // The next delimiter at the start of a line; a body without the closing one ends
        // at its end (lenient: some clients stop short).
        let mut search = content;
        let next = loop {
            match find(body, &delimiter, search) {
                Some(p) if body[p - 1] == b'\n' => break Some(p),
                Some(p) => search = p + 1,
                None => break None,
            }
        };
        let end = next.unwrap_or(body.len());
        let mut chunk = &body[content..end];
        if next.is_some() {
            chunk = chunk.strip_suffix(b"\n").unwrap_or(chunk);
            chunk = chunk.strip_suffix(b"\r").unwrap_or(chunk);
        }
        parts.push(parse_part(chunk)?);
        match next {
            Some(p) => start = p,
            None => return Some(parts),
        }
    }
}

fn parse_part(chunk: &[u8]) -> Option<Part> {
    let (head, data) = match (find(chunk, b"\r\n\r\n", 0), find(chunk, b"\n\n", 0)) {
        (Some(a), Some(b)) if b < a => (&chunk[..b], &chunk[b + 2..]),
        (Some(a), _) => (&chunk[..a], &chunk[a + 4..]),
        (None, Some(b)) => (&chunk[..b], &chunk[b + 2..]),
        // Headers only, no body.
        (None, None) => (chunk, &chunk[chunk.len()..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut name = None;
    let mut content_type = None;
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("content-disposition") {
            name = parameter(v, "name");
        } else if k.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(v.trim().to_string());
        }
    }
    Some(Part {
        name: name?,
        content_type,
        data: data.to_vec(),
    })
}

/// `{"roomDTO": {…}}` → `{…}`; anything else as it is.
pub fn unwrap_root(value: Value, root: &str) -> Value {
    match value {
        Value::Object(mut map) if map.len() == 1 && map.get(root).is_some_and(Value::is_object) => {
            map.remove(root).unwrap_or_default()
        }
        other => other,
    }
}

/// A text field; numbers and booleans as their text (`"externalId": 12`); absent or
/// null: `None`.
pub fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole-number field; numbers sent as text (`"capacity": "25"`) too. Absent, null or
/// empty: `Ok(None)`; anything else that is not a whole number: `Err`.
pub fn long(v: &Value, key: &str) -> Result<Option<i64>, ()> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or(()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| ()),
        Some(_) => Err(()),
    }
}

/// A boolean field; `"true"`/`"false"`, `1`/`0` too. Absent or anything else: `None`.
pub fn boolean(v: &Value, key: &str) -> Option<bool> {
    match v.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A path segment that must be a whole number: anything else is a 404, as in OpenMeetings.
pub fn path_id(segment: &str) -> Result<i64, Fail> {
    segment
        .trim()
        .parse::<i64>()
        .map_err(|_| Fail::from(status_only(StatusCode::NOT_FOUND)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_query_starting_with_an_ampersand_and_empty_ones() {
        let q = parse_pairs("&sid=abc&&x=1");
        assert_eq!(q.get("sid").map(String::as_str), Some("abc"));
        assert_eq!(q.get("x").map(String::as_str), Some("1"));
        assert_eq!(q.len(), 2);
        assert!(parse_pairs("").is_empty());
        assert_eq!(parse_pairs("&secure=a%2Bb&language=1")["secure"], "a+b");
    }

    #[test]
    fn url_encoded_forms() {
        let f = parse_form(
            "application/x-www-form-urlencoded; charset=UTF-8",
            br#"user=%7B%22externalId%22%3A%227%22%7D&options=%7B%7D"#,
        )
        .unwrap();
        assert_eq!(f["user"], r#"{"externalId":"7"}"#);
        assert_eq!(f["options"], "{}");
        assert!(parse_form("", b"").unwrap().is_empty());
    }

    const MULTIPART: &str = "--XyZ\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nadmin\r\n\
        --XyZ\r\nContent-Disposition: form-data; name=\"pass\"\r\n\r\nsec\r\nret\r\n--XyZ--\r\n";

    #[test]
    fn multipart_with_and_without_a_boundary_parameter() {
        for ct in [
            "multipart/form-data; boundary=XyZ",
            "multipart/form-data; boundary=\"XyZ\"",
            "multipart/form-data",
            "",
        ] {
            let f = parse_form(ct, MULTIPART.as_bytes()).unwrap_or_else(|| panic!("{ct}"));
            assert_eq!(f["user"], "admin", "{ct}");
            assert_eq!(f["pass"], "sec\r\nret", "{ct}");
        }
    }

    #[test]
    fn multipart_with_a_preamble_and_lf_line_ends() {
        // Moodle's upload writes a Content-type line before the first boundary.
        let body = "Content-type: multipart/form-data; boundary=b1\r\n\r\n--b1\r\n\
            Content-Disposition: form-data; name=\"file\"\r\nContent-Type: application/json\r\n\r\n\
            {\"fileItemDTO\":{\"name\":\"x.pdf\"}}\r\n--b1\r\n\
            Content-Disposition: form-data; name=\"stream\"; filename=\"x.pdf\"\r\n\
            Content-Type: application/octet-stream\r\n\r\n%PDF\u{ff}\r\n--b1--\r\n";
        let parts = parse_multipart(body.as_bytes(), Some("b1")).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "file");
        assert_eq!(parts[0].content_type.as_deref(), Some("application/json"));
        assert_eq!(parts[1].data, "%PDF\u{ff}".as_bytes());
        // The same without the parameter: the boundary is the first `--` line, not the preamble.
        let f = parse_form("multipart/form-data", body.as_bytes()).unwrap();
        assert!(f["file"].contains("fileItemDTO"));
        let lf = "--q\nContent-Disposition: form-data; name=\"a\"\n\n1\n--q--\n";
        assert_eq!(
            parse_form("multipart/form-data", lf.as_bytes()).unwrap()["a"],
            "1"
        );
    }

    #[test]
    fn malformed_multipart_is_refused_not_a_panic() {
        for body in [
            "--",
            "--x",
            "--x\r\n",
            "--x\r\nno-disposition: 1\r\n\r\nv\r\n--x--",
            "junk without any boundary",
            "--x\r\nContent-Disposition: form-data; name=\"a\"",
        ] {
            let _ = parse_form("multipart/form-data", body.as_bytes());
            let _ = parse_multipart(body.as_bytes(), Some("x"));
        }
        assert!(parse_form("multipart/form-data", b"junk").is_none());
        // A closing delimiter missing: the last part ends with the body.
        let f = parse_form(
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv",
        )
        .unwrap();
        assert_eq!(f["a"], "v");
    }

    #[test]
    fn random_bodies_never_panic() {
        // A small xorshift generator: the same inputs on every run.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet: &[u8] = b"-\r\n=;:\"abcXYZ name Content-Disposition: form-data; boundary";
        for round in 0..3000 {
            let len = (next() % 200) as usize;
            let mut body: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if round % 3 == 0 {
                body.splice(0..0, b"--b\r\n".iter().copied());
            }
            let _ = parse_multipart(&body, Some("b"));
            let _ = parse_multipart(&body, None);
            let _ = parse_form("multipart/form-data", &body);
            let _ = parse_form("", &body);
            let _ = parse_form("application/x-www-form-urlencoded", &body);
        }
    }

    #[test]
    fn numbers_as_strings_and_ids_as_numbers() {
        let v = json!({"roomId": "12", "capacity": 25, "externalId": 7, "fileId": " 3 ",
                       "bad": "x", "empty": "", "none": null, "f": 4.0});
        assert_eq!(long(&v, "roomId"), Ok(Some(12)));
        assert_eq!(long(&v, "capacity"), Ok(Some(25)));
        assert_eq!(long(&v, "fileId"), Ok(Some(3)));
        assert_eq!(long(&v, "f"), Ok(Some(4)));
        assert_eq!(long(&v, "empty"), Ok(None));
        assert_eq!(long(&v, "none"), Ok(None));
        assert_eq!(long(&v, "missing"), Ok(None));
        assert_eq!(long(&v, "bad"), Err(()));
        assert_eq!(text(&v, "externalId").as_deref(), Some("7"));
        assert_eq!(text(&v, "roomId").as_deref(), Some("12"));
        assert_eq!(text(&v, "none"), None);
    }

    #[test]
    fn booleans_leniently() {
        let v = json!({"a": true, "b": "false", "c": "TRUE", "d": 1, "e": "maybe"});
        assert_eq!(boolean(&v, "a"), Some(true));
        assert_eq!(boolean(&v, "b"), Some(false));
        assert_eq!(boolean(&v, "c"), Some(true));
        assert_eq!(boolean(&v, "d"), Some(true));
        assert_eq!(boolean(&v, "e"), None);
        assert_eq!(boolean(&v, "zz"), None);
    }

    #[test]
    fn wrapped_or_bare_and_unknown_fields() {
        let req = |form: &[(&str, &str)], query: &[(&str, &str)]| OmRequest {
            method: Method::POST,
            form: form
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let r = req(
            &[(
                "room",
                r#"{"roomDTO":{"name":"A","chatHidden":false,"id":null}}"#,
            )],
            &[],
        );
        let v = r.json("room", "roomDTO").unwrap().unwrap();
        assert_eq!(v["name"], "A");
        assert!(
            v.get("chatHidden").is_some(),
            "unknown fields are kept, then ignored"
        );
        let r = req(&[("room", r#"{"name":"B"}"#)], &[]);
        assert_eq!(r.json("room", "roomDTO").unwrap().unwrap()["name"], "B");
        // Bad JSON: 400 in a form field, 404 in the query.
        let r = req(&[("room", "{nope")], &[]);
        assert_eq!(r.json("room", "roomDTO").unwrap_err().0.status(), 400);
        let r = req(&[], &[("room", "[object Object]")]);
        assert_eq!(r.json("room", "roomDTO").unwrap_err().0.status(), 404);
        let r = req(&[("room", "\"text\"")], &[]);
        assert_eq!(r.json("room", "roomDTO").unwrap_err().0.status(), 400);
        let r = req(&[("room", "{\"name\":\"a\\u0000\"}")], &[]);
        assert_eq!(r.json("room", "roomDTO").unwrap_err().0.status(), 400);
        assert!(req(&[], &[]).json("room", "roomDTO").unwrap().is_none());
        assert_eq!(path_id("12").unwrap(), 12);
        assert_eq!(path_id("x").unwrap_err().0.status(), 404);
    }
}
