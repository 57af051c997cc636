//! OpenMeetings' DTOs and Convene's rows: RoomDTO ⇄ room + `om_rooms`, UserDTO ← account
//! (+ external profile), ExternalUserDTO → profile. Output uses the declared JSON types
//! (strings as strings, lists as arrays), null fields omitted.

use super::transport::{boolean, long, text};
use crate::store::openmeetings::{ExternalProfile, OmRoomMeta};
use crate::store::{Role, RoomKind, RoomRow, UserRow};
use serde_json::{Map, Value, json};

/// OpenMeetings' room type for a kind.
pub fn om_type(kind: RoomKind) -> &'static str {
    match kind {
        RoomKind::Conference => "CONFERENCE",
        RoomKind::Presentation => "PRESENTATION",
        RoomKind::Interview => "INTERVIEW",
    }
}

/// The kind for an OpenMeetings room type, in any case.
pub fn kind_of(om_type: &str) -> Option<RoomKind> {
    RoomKind::parse(&om_type.trim().to_ascii_lowercase())
}

/// RoomDTO booleans Convene keeps as given and answers back (it has no behaviour for them).
const EXTRA_FLAGS: &[&str] = &[
    "appointment",
    "demo",
    "moderated",
    "waitModerator",
    "allowUserQuestions",
    "allowRecording",
    "waitRecording",
    "audioOnly",
];
/// RoomDTO texts kept likewise.
const EXTRA_TEXTS: &[&str] = &["tag", "confno", "redirectUrl"];

/// OpenMeetings' default capacity.
const DEFAULT_CAPACITY: i64 = 4;
const MAX_CAPACITY: i64 = 10_000;

/// A RoomDTO as received, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomIn {
    pub id: Option<i64>,
    pub name: String,
    pub kind: RoomKind,
    pub capacity: i64,
    pub public: bool,
    pub comment: String,
    pub closed: Option<bool>,
    pub external_type: Option<String>,
    pub external_id: Option<String>,
    /// The other fields, as a JSON object.
    pub extra: Value,
}

/// Why a RoomDTO is refused: `Unparsable` (a 400, like a JSON error) or a message (a 500).
#[derive(Debug, PartialEq, Eq)]
pub enum RoomRefused {
    Unparsable,
    Invalid(String),
}

fn clean(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

/// Reads a RoomDTO: `type` is required; a name longer than Convene's 100 characters is
/// shortened; numbers may come as text.
pub fn room_in(v: &Value) -> Result<RoomIn, RoomRefused> {
    let kind = text(v, "type")
        .and_then(|t| kind_of(&t))
        .ok_or(RoomRefused::Unparsable)?;
    let id = long(v, "id").map_err(|_| RoomRefused::Unparsable)?;
    let capacity = long(v, "capacity")
        .map_err(|_| RoomRefused::Unparsable)?
        .unwrap_or(DEFAULT_CAPACITY);
    if !(1..=MAX_CAPACITY).contains(&capacity) {
        return Err(RoomRefused::Invalid(format!(
            "capacity must be between 1 and {MAX_CAPACITY}"
        )));
    }
    let mut name = clean(&text(v, "name").unwrap_or_default(), 100);
    if name.is_empty() {
        name = "Room".into();
    }
    let mut extra = Map::new();
    for key in EXTRA_FLAGS {
        if let Some(b) = boolean(v, key) {
            extra.insert(key.to_string(), Value::Bool(b));
        }
    }
    for key in EXTRA_TEXTS {
        if let Some(t) = text(v, key) {
            extra.insert(key.to_string(), Value::String(clean(&t, 2000)));
        }
    }
    if let Ok(Some(d)) = long(v, "demoTime") {
        extra.insert("demoTime".into(), json!(d));
    }
    if let Some(Value::Array(items)) = v.get("hiddenElements") {
        let items: Vec<Value> = items
            .iter()
            .filter_map(Value::as_str)
            .take(20)
            .map(|s| Value::String(clean(s, 40)))
            .collect();
        extra.insert("hiddenElements".into(), Value::Array(items));
    }
    let external = |k: &str| text(v, k).map(|s| clean(&s, 255)).filter(|s| !s.is_empty());
    Ok(RoomIn {
        id: id.filter(|i| *i > 0),
        name,
        kind,
        capacity,
        public: boolean(v, "isPublic").unwrap_or(false),
        comment: clean(&text(v, "comment").unwrap_or_default(), 2000),
        closed: boolean(v, "closed"),
        external_type: external("externalType"),
        external_id: external("externalId"),
        extra: Value::Object(extra),
    })
}

impl RoomIn {
    pub fn meta(&self, closed: bool) -> OmRoomMeta {
        OmRoomMeta {
            external_type: self.external_type.clone(),
            external_id: self.external_id.clone(),
            om_type: om_type(self.kind).to_string(),
            closed: self.closed.unwrap_or(closed),
            extra: self.extra.to_string(),
        }
    }
}

/// A RoomDTO of a room (with its OpenMeetings fields, if it has any).
pub fn room_out(room: &RoomRow, meta: Option<&OmRoomMeta>) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(room.id.0));
    out.insert("name".into(), json!(room.name));
    if !room.comment.is_empty() {
        out.insert("comment".into(), json!(room.comment));
    }
    out.insert("type".into(), json!(om_type(room.kind)));
    out.insert("capacity".into(), json!(room.capacity));
    out.insert("isPublic".into(), json!(room.public));
    for key in EXTRA_FLAGS {
        out.insert(key.to_string(), Value::Bool(false));
    }
    out.insert("closed".into(), json!(meta.is_some_and(|m| m.closed)));
    if let Some(meta) = meta {
        if let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(&meta.extra) {
            out.extend(extra);
        }
        if let Some(t) = &meta.external_type {
            out.insert("externalType".into(), json!(t));
        }
        if let Some(i) = &meta.external_id {
            out.insert("externalId".into(), json!(i));
        }
    }
    Value::Object(out)
}

/// OpenMeetings' rights for a Convene role.
fn rights(role: Role) -> Vec<&'static str> {
    match role {
        Role::Admin => vec!["ADMIN", "ROOM", "DASHBOARD", "LOGIN", "SOAP"],
        Role::Webservice => vec!["ROOM", "LOGIN", "SOAP"],
        Role::Organiser | Role::User => vec!["ROOM", "DASHBOARD", "LOGIN"],
        Role::Guest => vec!["ROOM"],
    }
}

/// A UserDTO of an account; an external person's carries its profile and type EXTERNAL.
pub fn user_out(user: &UserRow, profile: Option<&ExternalProfile>) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(user.id.0));
    out.insert(
        "languageId".into(),
        json!(language_id(user.language.as_deref())),
    );
    match profile {
        Some(p) => {
            out.insert("login".into(), json!(p.login));
            out.insert("firstname".into(), json!(p.firstname));
            out.insert("lastname".into(), json!(p.lastname));
            out.insert("externalId".into(), json!(p.external_id));
            out.insert("externalType".into(), json!(p.external_type));
            out.insert("type".into(), json!("EXTERNAL"));
            out.insert("rights".into(), json!(["ROOM"]));
            if !p.email.is_empty() {
                out.insert("address".into(), json!({"email": p.email}));
            }
            if !p.picture_uri.is_empty() {
                out.insert("pictureUri".into(), json!(p.picture_uri));
            }
        }
        None => {
            out.insert("login".into(), json!(user.login));
            out.insert("firstname".into(), json!(user.display_name));
            out.insert("lastname".into(), json!(""));
            out.insert("type".into(), json!("USER"));
            out.insert("rights".into(), json!(rights(user.role)));
        }
    }
    Value::Object(out)
}

/// OpenMeetings' language ids for the UI languages Convene has (1 English, 2 German).
pub fn language_id(tag: Option<&str>) -> i64 {
    match tag {
        Some("de") => 2,
        _ => 1,
    }
}

/// The UI language for an OpenMeetings language id, if Convene has it.
pub fn language_tag(id: &str) -> Option<&'static str> {
    match id.trim() {
        "1" => Some("en"),
        "2" | "3" => Some("de"),
        _ => None,
    }
}

/// An ExternalUserDTO: `None` unless externalId and externalType are set.
pub fn profile_in(v: &Value) -> Option<ExternalProfile> {
    let field = |k: &str, max: usize| clean(&text(v, k).unwrap_or_default(), max);
    let p = ExternalProfile {
        external_type: field("externalType", 255),
        external_id: field("externalId", 255),
        login: field("login", 255),
        firstname: field("firstname", 255),
        lastname: field("lastname", 255),
        email: field("email", 255),
        picture_uri: field("profilePictureUrl", 2000),
    };
    (!p.external_id.is_empty() && !p.external_type.is_empty()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RoomId;

    #[test]
    fn moodles_room_is_read_with_strings_for_numbers_and_unknown_fields() {
        let v: Value = serde_json::from_str(
            r#"{"id":null,"name":"C101 Maths","comment":"Created by SOAP-Gateway",
                "type":"CONFERENCE","capacity":"25","isPublic":false,"appointment":false,
                "moderated":true,"audioOnly":false,"allowUserQuestions":true,
                "allowRecording":true,"chatHidden":false,"externalId":3,
                "files":[{"wbIdx":"0","fileId":"12"}],"externalType":"moodle"}"#,
        )
        .unwrap();
        let r = room_in(&v).unwrap();
        assert_eq!(r.id, None);
        assert_eq!(r.kind, RoomKind::Conference);
        assert_eq!(r.capacity, 25);
        assert!(!r.public);
        assert_eq!(r.external_id.as_deref(), Some("3"));
        assert_eq!(r.external_type.as_deref(), Some("moodle"));
        assert_eq!(r.extra["moderated"], true);
        assert!(r.extra.get("chatHidden").is_none());
        let row = RoomRow {
            id: RoomId(12),
            name: r.name.clone(),
            kind: r.kind,
            capacity: r.capacity,
            public: r.public,
            comment: r.comment.clone(),
            members: vec![],
            moderators: vec![],
            created_at: 0,
            owner: None,
            waiting_room: false,
        };
        let out = room_out(&row, Some(&r.meta(false)));
        assert_eq!(out["id"], 12);
        assert_eq!(out["type"], "CONFERENCE");
        assert_eq!(out["capacity"], 25);
        assert_eq!(out["isPublic"], false);
        assert_eq!(out["moderated"], true);
        assert_eq!(out["externalId"], "3");
        assert_eq!(out["closed"], false);
    }

    #[test]
    fn a_room_without_type_is_unparsable() {
        let v: Value = serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        assert_eq!(room_in(&v), Err(RoomRefused::Unparsable));
        let v: Value = serde_json::from_str(r#"{"type":"interview","capacity":"lots"}"#).unwrap();
        assert_eq!(room_in(&v), Err(RoomRefused::Unparsable));
        let v: Value = serde_json::from_str(r#"{"type":"interview","capacity":0}"#).unwrap();
        assert!(matches!(room_in(&v), Err(RoomRefused::Invalid(_))));
        let v: Value = serde_json::from_str(r#"{"type":"presentation","id":"7"}"#).unwrap();
        let r = room_in(&v).unwrap();
        assert_eq!((r.id, r.capacity, r.name.as_str()), (Some(7), 4, "Room"));
    }

    #[test]
    fn external_users_need_both_keys() {
        let v: Value = serde_json::from_str(
            r#"{"login":"stud1","firstname":"Ann","lastname":"Lee","email":"a@x",
                "profilePictureUrl":"https://lms/f1","externalId":7,"externalType":"moodle"}"#,
        )
        .unwrap();
        let p = profile_in(&v).unwrap();
        assert_eq!(p.external_id, "7");
        assert_eq!(p.display_name(), "Ann Lee");
        assert!(profile_in(&serde_json::json!({"externalId": "7"})).is_none());
        assert!(profile_in(&serde_json::json!({"externalId": "", "externalType": "m"})).is_none());
    }
}
