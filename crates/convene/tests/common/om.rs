//! An OpenMeetings integration as the Moodle plugin (and om-hosting's clients) speak to
//! Convene: raw requests with the exact encodings they use (reference §7).

use serde_json::Value;

/// The answer: status, `exception` header, body (JSON, or Null when empty or not JSON).
pub struct Answer {
    pub status: u16,
    pub exception: Option<String>,
    pub body: Value,
}

pub struct Om {
    pub http: reqwest::Client,
    /// BASE: the node's URL with the prefix, `http://host:port/openmeetings`.
    pub base: String,
}

pub const BOUNDARY: &str = "------------------------d74496d66958873e";

/// A multipart body of text fields, CRLF line ends, `preamble` before the first boundary.
pub fn multipart(fields: &[(&str, &str)], preamble: &str) -> String {
    let mut body = preamble.to_string();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body
}

pub fn urlencoded(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

impl Om {
    pub fn new(node_url: &str) -> Om {
        Om {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent("openmeetings")
                .build()
                .unwrap(),
            base: format!("{node_url}/openmeetings"),
        }
    }

    /// `path` is relative to BASE/services and carries its own query (`room/5?&sid=…`).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: String,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}/services/{path}", self.base));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = req.body(body).send().await.unwrap();
        let status = res.status().as_u16();
        let exception = res
            .headers()
            .get("exception")
            .map(|v| v.to_str().unwrap().to_string());
        let text = res.text().await.unwrap();
        Answer {
            status,
            exception,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None, String::new()).await
    }

    /// Multipart with the boundary in Content-Type (PHP curl, Guzzle).
    pub async fn post_multipart(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let ct = format!("multipart/form-data; boundary={BOUNDARY}");
        self.call("POST", path, Some(&ct), multipart(fields, ""))
            .await
    }

    /// Multipart without a boundary parameter (the node client with `form-data`).
    pub async fn post_multipart_no_boundary(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.call(
            "POST",
            path,
            Some("multipart/form-data"),
            multipart(fields, ""),
        )
        .await
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.call(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            urlencoded(fields),
        )
        .await
    }

    /// Moodle's login: `POST /services/user/login?`, multipart `user`, `pass`; the sid.
    pub async fn login(&self, user: &str, pass: &str) -> String {
        let a = self
            .post_multipart("user/login?", &[("user", user), ("pass", pass)])
            .await;
        assert_eq!(a.status, 200, "login: {}", a.body);
        assert_eq!(a.body["serviceResult"]["type"], "SUCCESS", "{}", a.body);
        a.body["serviceResult"]["message"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Moodle's `user/hash`: url-encoded `user` and `options`; the hash.
    pub async fn hash(&self, sid: &str, user: &Value, options: &Value) -> String {
        let a = self
            .post_form(
                &format!("user/hash?&sid={sid}"),
                &[
                    ("user", &user.to_string()),
                    ("options", &options.to_string()),
                ],
            )
            .await;
        assert_eq!(a.status, 200, "user/hash: {}", a.body);
        assert_eq!(a.body["serviceResult"]["type"], "SUCCESS", "{}", a.body);
        a.body["serviceResult"]["message"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Opens `BASE/hash?…` without following redirects: status and Location.
    pub async fn open_hash(&self, query: &str) -> (u16, Option<String>, reqwest::Response) {
        let res = self
            .http
            .get(format!("{}/hash?{query}", self.base))
            .send()
            .await
            .unwrap();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        (res.status().as_u16(), location, res)
    }
}

/// Moodle's room (`mod_form` save), field `room`.
pub fn moodle_room(external_id: i64, name: &str) -> Value {
    serde_json::json!({
        "id": null, "name": name, "comment": "Created by SOAP-Gateway", "type": "CONFERENCE",
        "capacity": "25", "isPublic": false, "appointment": false, "moderated": true,
        "audioOnly": false, "allowUserQuestions": true, "allowRecording": true,
        "chatHidden": false, "externalId": external_id, "files": [], "externalType": "moodle"
    })
}

/// Moodle's ExternalUserDTO for a student or teacher.
pub fn moodle_user(id: &str, login: &str, first: &str, last: &str) -> Value {
    serde_json::json!({
        "login": login, "firstname": first, "lastname": last, "email": format!("{login}@lms.test"),
        "profilePictureUrl": format!("https://lms.test/pluginfile.php/{id}/f1"),
        "externalId": id, "externalType": "moodle"
    })
}

/// Moodle's RoomOptionsDTO.
pub fn moodle_options(room_id: i64, external_room: i64, moderator: bool) -> Value {
    serde_json::json!({
        "roomId": room_id.to_string(), "externalRoomId": external_room.to_string(),
        "moderator": moderator, "allowRecording": true, "externalType": "moodle"
    })
}
