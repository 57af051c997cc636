//! Every operation of the API × every role: who gets through, who is refused and how.
//! One table; a real node, real HTTP.
//!
//! The operations are those of the OpenAPI document (which `api.rs` checks against the
//! router), and every `.route(…)` of `src/api/mod.rs` must be in that document: a new
//! route without a row here fails `every_route_has_a_row`.

use crate::common;

use common::ws::Participant;
use common::{Api, TestNode};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

/// Who calls. Each has an account of its own (the two webservice columns too), so that a
/// password change by one ends no session another column uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Anonymous,
    /// From an invitation to the guest room (only when invitations are routed).
    Guest,
    User,
    /// The organiser who owns the target rooms.
    OrgOwner,
    /// Another organiser.
    OrgOther,
    Admin,
    /// A webservice account with a Bearer token.
    WsBearer,
    /// A webservice account's session sent as the browser's cookie.
    WsCookie,
}

const COLUMNS: [Who; 8] = [
    Who::Anonymous,
    Who::Guest,
    Who::User,
    Who::OrgOwner,
    Who::OrgOther,
    Who::Admin,
    Who::WsBearer,
    Who::WsCookie,
];

/// What a caller should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum E {
    /// Any 2xx.
    Ok,
    /// Exactly this status.
    S(u16),
    /// Refused after authentication: 403 or 404 (for rules another part of the code owns
    /// the details of, such as invitations).
    Refused,
    /// Let through: 2xx, or 404 for a target that does not exist (a lobby participant).
    Through,
}

const OK: E = E::Ok;
const U: E = E::S(401);
const F: E = E::S(403);
const N: E = E::S(404);
const R: E = E::Refused;
const T: E = E::Through;

impl E {
    fn accepts(self, status: u16) -> bool {
        match self {
            E::Ok => (200..300).contains(&status),
            E::S(s) => s == status,
            E::Refused => status == 403 || status == 404,
            E::Through => (200..300).contains(&status) || status == 404,
        }
    }
}

/// What `{id}` (and `{participant}`) stand for, made fresh where the call consumes it.
#[derive(Debug, Clone, Copy)]
enum Target {
    None,
    /// Private, no members, owned by the organiser `olga`.
    PrivateRoom,
    /// Public, owned by `olga`.
    PublicRoom,
    /// Public, owned by `olga`: the room the guest is invited to.
    GuestRoom,
    /// A new private (public) room owned by `olga`, for each call (deletions).
    FreshPrivateRoom,
    FreshPublicRoom,
    /// The plain user `ulla`.
    AUser,
    /// A new account for each call (deletions).
    FreshUser,
    /// A new administrator for each call.
    FreshAdmin,
    /// This node (server 1).
    ThisNode,
    /// A registered server that does not run.
    SpareServer,
    /// A new live connection (the admin in the public room) for each call.
    FreshConnection,
    /// A new invitation to the private room, made by `olga`, for each call.
    FreshInvitation,
    /// The public room and a participant id nobody has.
    PublicRoomLobby,
    /// The token of a new invitation to the guest room, for each call.
    InviteToken,
    /// A file of the public room, uploaded by `olga` (`{id}`; with `{file}` in the path,
    /// `{id}` is the room and `{file}` the file).
    RoomFile,
    /// A new such file for each call (deletions).
    FreshRoomFile,
    /// A folder of the public room, made by `olga`; a new one for each call.
    RoomFolder,
    FreshRoomFolder,
    /// A public room of `olga` kept live (the admin is in it), being recorded.
    RecordedRoom,
    /// A processed (`ready`) recording of that room.
    Recording,
    /// A new recording for each call (deletions), of another live room.
    FreshRecording,
}

/// What the body is.
#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    Empty,
    RoomEdit,
    NewRoom,
    NewUser,
    UserEdit,
    /// A new account with the role `admin`.
    NewAdmin,
    /// `{"role": "admin"}`.
    Promote,
    /// A new password, as a takeover would set it.
    TakeOver,
    NewServer,
    ServerEdit,
    Drain,
    Login,
    Profile,
    Password,
    Invitation,
    Redeem,
    Check,
    FileEdit,
    NewFolder,
    FolderEdit,
    FileSettings,
    /// `{"policy": "allowed"}`.
    RecordingPolicy,
}

struct Row {
    method: &'static str,
    path: &'static str,
    target: Target,
    body: Body,
    /// By column: anonymous, guest, user, organiser owning, organiser not owning, admin,
    /// webservice (Bearer), webservice (cookie).
    expect: [E; 8],
}

const fn row(
    method: &'static str,
    path: &'static str,
    target: Target,
    body: Body,
    expect: [E; 8],
) -> Row {
    Row {
        method,
        path,
        target,
        body,
        expect,
    }
}

use Body as B;
use Target as At;

/// The table. Columns: anonymous, guest, user, organiser owning the room, organiser not
/// owning it, admin, webservice by Bearer, webservice by cookie.
///
/// Rows whose routes are not documented (yet) are skipped with a note; a documented route
/// without a row fails.
const ROWS: &[Row] = include!("authz/rows.rs");

/// One column's account: its session and password.
struct Account {
    login: String,
    password: String,
    sid: Option<String>,
}

struct World {
    node: TestNode,
    admin: Api,
    olga: Api,
    accounts: HashMap<Who, Account>,
    private_room: i64,
    public_room: i64,
    guest_room: i64,
    ulla: i64,
    olga_id: i64,
    /// Whether invitations (and so guests) exist in this build.
    invitations: bool,
    /// Participants kept open until their kick.
    kept: Vec<Participant>,
    counter: u32,
    /// The public room's file for `At::RoomFile`, once made.
    room_file: Option<i64>,
    /// `At::RecordedRoom`, `At::Recording`, and the live room of `At::FreshRecording`.
    recorded_room: i64,
    recording: i64,
    spare_room: i64,
}

/// The token inside an invitation link (`…?token=T`, `…#T` or `…/T`).
fn token_of(url: &str) -> String {
    if let Some((_, rest)) = url.split_once("token=") {
        return rest.split(['&', '#']).next().unwrap().to_string();
    }
    url.rsplit(['/', '#', '=']).next().unwrap().to_string()
}

impl World {
    async fn new(documented: &BTreeSet<(String, String)>) -> World {
        let node = TestNode::sqlite().await;
        let admin = node.admin().await;
        let people = [
            (Who::User, "ulla", "user"),
            (Who::OrgOwner, "olga", "organiser"),
            (Who::OrgOther, "otto", "organiser"),
            (Who::WsBearer, "wsb", "webservice"),
            (Who::WsCookie, "wsc", "webservice"),
        ];
        let mut accounts = HashMap::new();
        let mut ids = HashMap::new();
        for (who, login, role) in people {
            let password = format!("{login}-password");
            ids.insert(who, admin.create_user(login, &password, role).await);
            let mut api = node.client();
            api.login(login, &password).await;
            accounts.insert(
                who,
                Account {
                    login: login.into(),
                    password,
                    sid: api.sid,
                },
            );
        }
        accounts.insert(
            Who::Admin,
            Account {
                login: "admin".into(),
                password: common::ADMIN_PASSWORD.into(),
                sid: admin.sid.clone(),
            },
        );
        accounts.insert(
            Who::Anonymous,
            Account {
                login: String::new(),
                password: String::new(),
                sid: None,
            },
        );
        admin.create_user("probe", "probe-password", "user").await;
        let mut olga = node.client();
        olga.sid = accounts[&Who::OrgOwner].sid.clone();
        // The organiser makes its rooms itself: it owns them.
        let private_room = olga
            .post(
                "/api/v1/rooms",
                json!({"name": "Olga's staff room", "public": false}),
            )
            .await;
        assert_eq!(private_room["owner"], ids[&Who::OrgOwner]);
        assert_eq!(private_room["public"], false);
        let public_room = olga
            .post("/api/v1/rooms", json!({"name": "Olga's class"}))
            .await;
        assert_eq!(
            public_room["public"], true,
            "public unless members are chosen"
        );
        let guest_room = olga
            .post("/api/v1/rooms", json!({"name": "Open day"}))
            .await["id"]
            .as_i64()
            .unwrap();
        admin
            .post(
                "/api/v1/servers",
                json!({"id": 50, "name": "spare", "address": "10.0.0.50"}),
            )
            .await;
        let invitations = documented
            .contains(&("POST".into(), "/api/v1/invitations/redeem".into()))
            && documented.contains(&("POST".into(), "/api/v1/rooms/{id}/invitations".into()));
        let mut world = World {
            node,
            admin,
            olga,
            accounts,
            private_room: private_room["id"].as_i64().unwrap(),
            public_room: public_room["id"].as_i64().unwrap(),
            guest_room,
            ulla: ids[&Who::User],
            olga_id: ids[&Who::OrgOwner],
            invitations,
            kept: Vec::new(),
            counter: 0,
            room_file: None,
            recorded_room: 0,
            recording: 0,
            spare_room: 0,
        };
        world.recordings().await;
        if invitations {
            let sid = world.guest_session().await;
            world.accounts.insert(
                Who::Guest,
                Account {
                    login: String::new(),
                    password: String::new(),
                    sid: Some(sid),
                },
            );
        }
        world
    }

    fn next(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    /// Two live rooms of `olga`'s (the admin stays in them): one with a processed
    /// recording and one running, one for fresh recordings.
    async fn recordings(&mut self) {
        for which in 0..2 {
            let room = self
                .admin
                .post(
                    "/api/v1/rooms",
                    json!({"name": format!("recorded {which}"), "public": true, "owner": self.olga_id}),
                )
                .await["id"]
                .as_i64()
                .unwrap();
            self.kept.push(self.admin.join(room).await);
            if which == 0 {
                self.recorded_room = room;
            } else {
                self.spare_room = room;
            }
        }
        self.recording = self.fresh_recording(self.recorded_room).await;
        common::eventually(120, || async {
            let r = self
                .admin
                .get(&format!("/api/v1/recordings/{}", self.recording))
                .await;
            assert_ne!(r["status"], "failed", "{r}");
            (r["status"] == "ready").then_some(())
        })
        .await;
        // And one running, so that starting another is refused (409) for those allowed.
        self.start_recording(self.recorded_room).await;
    }

    /// Starts a recording of `room` (once the last one has left `stopping`); its id.
    async fn start_recording(&self, room: i64) -> i64 {
        // A previous recording of the room may still be stopping on a busy machine.
        common::eventually(30, || async {
            let (status, rec) = self
                .admin
                .send(
                    "POST",
                    &format!("/api/v1/rooms/{room}/recordings"),
                    Some(json!({})),
                )
                .await;
            (status == 201).then(|| rec["id"].as_i64().unwrap())
        })
        .await
    }

    /// A recording of `room`, started and stopped.
    async fn fresh_recording(&self, room: i64) -> i64 {
        let id = self.start_recording(room).await;
        let (status, _) = self
            .admin
            .send(
                "POST",
                &format!("/api/v1/recordings/{id}/stop"),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 200);
        id
    }

    /// A fresh invitation to `room` by its owner; its id and token.
    async fn invitation(&self, room: i64, uses: &str) -> (i64, String) {
        let inv = self
            .olga
            .post(
                &format!("/api/v1/rooms/{room}/invitations"),
                json!({"role": "participant", "uses": uses, "expires_in": 3600, "password": null}),
            )
            .await;
        let token = match inv["token"].as_str() {
            Some(token) => token.to_string(),
            None => token_of(inv["url"].as_str().expect("an invitation url")),
        };
        (inv["id"].as_i64().expect("an invitation id"), token)
    }

    /// A new guest session in the guest room.
    async fn guest_session(&self) -> String {
        let (_, token) = self.invitation(self.guest_room, "single").await;
        let redeemed = self
            .node
            .client()
            .post(
                "/api/v1/invitations/redeem",
                json!({"token": token, "display_name": "Gustav", "password": null}),
            )
            .await;
        assert_eq!(redeemed["user"]["role"], "guest", "{redeemed}");
        redeemed["sid"].as_str().unwrap().to_string()
    }

    /// A text file uploaded by `olga` to the public room (multipart made by hand).
    async fn upload_file(&self) -> i64 {
        let boundary = "authz-matrix-boundary";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n\
             Content-Type: text/plain\r\n\r\nsome notes\r\n--{boundary}--\r\n"
        );
        let res = self
            .olga
            .http
            .post(format!(
                "{}/api/v1/rooms/{}/files",
                self.node.url, self.public_room
            ))
            .bearer_auth(self.olga.sid.as_deref().unwrap())
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "upload a file");
        let file: Value = res.json().await.unwrap();
        file["id"].as_i64().unwrap()
    }

    async fn fresh_room(&self, public: bool) -> i64 {
        self.admin
            .post(
                "/api/v1/rooms",
                json!({"name": "to delete", "public": public, "owner": self.olga_id}),
            )
            .await["id"]
            .as_i64()
            .unwrap()
    }

    /// The path with its parameters filled in.
    async fn path(&mut self, row: &Row) -> String {
        let id = match row.target {
            At::None => None,
            At::PrivateRoom => Some(self.private_room.to_string()),
            At::PublicRoom | At::PublicRoomLobby => Some(self.public_room.to_string()),
            At::GuestRoom => Some(self.guest_room.to_string()),
            At::FreshPrivateRoom => Some(self.fresh_room(false).await.to_string()),
            At::FreshPublicRoom => Some(self.fresh_room(true).await.to_string()),
            At::AUser => Some(self.ulla.to_string()),
            At::FreshUser => {
                let n = self.next();
                let login = format!("victim{n}");
                Some(
                    self.admin
                        .create_user(&login, "victim-password", "user")
                        .await
                        .to_string(),
                )
            }
            At::FreshAdmin => {
                let n = self.next();
                let login = format!("boss{n}");
                let id = self.admin.create_user(&login, "boss-password", "admin");
                Some(id.await.to_string())
            }
            At::ThisNode => Some("1".into()),
            At::SpareServer => Some("50".into()),
            At::FreshConnection => {
                let p = self.admin.join(self.public_room).await;
                let id = p.id.clone();
                self.kept.push(p);
                Some(id)
            }
            At::FreshInvitation => Some(
                self.invitation(self.private_room, "single")
                    .await
                    .0
                    .to_string(),
            ),
            At::RoomFile | At::FreshRoomFile => {
                let file = match (row.target, self.room_file) {
                    (At::RoomFile, Some(f)) => f,
                    _ => {
                        let f = self.upload_file().await;
                        if matches!(row.target, At::RoomFile) {
                            self.room_file = Some(f);
                        }
                        f
                    }
                };
                if row.path.contains("{file}") {
                    return row
                        .path
                        .replace("{id}", &self.public_room.to_string())
                        .replace("{file}", &file.to_string());
                }
                Some(file.to_string())
            }
            At::RoomFolder | At::FreshRoomFolder => Some(
                self.olga
                    .post(
                        &format!("/api/v1/rooms/{}/folders", self.public_room),
                        json!({"name": "Folder"}),
                    )
                    .await["id"]
                    .to_string(),
            ),
            At::RecordedRoom => Some(self.recorded_room.to_string()),
            At::Recording => Some(self.recording.to_string()),
            At::FreshRecording => Some(self.fresh_recording(self.spare_room).await.to_string()),
            At::InviteToken => {
                let token = self.invitation(self.guest_room, "single").await.1;
                return row.path.replace("{token}", &token);
            }
        };
        let mut path = row.path.to_string();
        if let Some(id) = id {
            path = path.replace("{id}", &id);
        }
        path.replace("{participant}", "0123456789abcdef0123456789abcdef")
            .replace("{board}", "1")
    }

    async fn body(&mut self, row: &Row, who: Who) -> Option<Value> {
        let n = self.next();
        Some(match row.body {
            B::None => return None,
            B::Empty => json!({}),
            B::RoomEdit => json!({"comment": format!("edited by {who:?}")}),
            B::NewRoom => json!({"name": format!("made by {who:?}")}),
            B::NewUser => json!({"login": format!("new{n}"), "password": "new-user-password"}),
            B::UserEdit => json!({"display_name": format!("Ulla {n}")}),
            B::NewAdmin => {
                json!({"login": format!("admin{n}"), "password": "new-admin-password", "role": "admin"})
            }
            B::Promote => json!({"role": "admin"}),
            B::TakeOver => json!({"password": "taken-over-password"}),
            B::NewServer => {
                json!({"id": 100 + n, "name": format!("node-new-{n}"), "address": "10.0.0.100"})
            }
            B::ServerEdit => json!({"comment": format!("seen by {who:?}")}),
            B::Drain => json!({"deadline_seconds": 600}),
            B::Login => json!({"login": "probe", "password": "probe-password"}),
            B::Profile => json!({"display_name": format!("{who:?} {n}"), "language": "de"}),
            B::Password => {
                let account = &self.accounts[&who];
                json!({"current": account.password, "new": format!("{}-renewed", account.password)})
            }
            B::Invitation => {
                json!({"role": "participant", "uses": "single", "expires_in": 600, "password": null})
            }
            B::Redeem => {
                let (_, token) = self.invitation(self.guest_room, "single").await;
                json!({"token": token, "display_name": format!("Visitor {n}"), "password": null})
            }
            B::Check => json!({"token": self.invitation(self.guest_room, "single").await.1}),
            B::FileEdit => json!({"name": format!("renamed by {who:?}.txt")}),
            B::RecordingPolicy => json!({"policy": "allowed"}),
            B::NewFolder => json!({"name": format!("made by {who:?}")}),
            B::FolderEdit => json!({"name": format!("renamed by {who:?}")}),
            B::FileSettings => json!({"files_upload": false}),
        })
    }

    /// The session the call is made with: a new one for a sign-out, which ends it.
    async fn session(&mut self, row: &Row, who: Who) -> Option<String> {
        if row.path != "/api/v1/logout" || who == Who::Anonymous {
            return self.accounts.get(&who).and_then(|a| a.sid.clone());
        }
        if who == Who::Guest {
            return Some(self.guest_session().await);
        }
        let account = &self.accounts[&who];
        let mut api = self.node.client();
        api.login(&account.login, &account.password).await;
        api.sid
    }

    async fn call(&mut self, row: &Row, who: Who) -> (u16, String) {
        let path = self.path(row).await;
        let body = self.body(row, who).await;
        let sid = self.session(row, who).await;
        let http = &self.admin.http;
        let method = reqwest::Method::from_bytes(row.method.as_bytes()).unwrap();
        let mut req = http.request(method, format!("{}{}", self.node.url, path));
        if let Some(sid) = sid {
            req = if who == Who::WsCookie {
                req.header("cookie", format!("convene_sid={sid}"))
            } else {
                req.bearer_auth(sid)
            };
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        if matches!(row.body, B::Password) && (200..300).contains(&status) {
            let account = self.accounts.get_mut(&who).unwrap();
            account.password = format!("{}-renewed", account.password);
        }
        (status, text)
    }
}

/// The operations of the OpenAPI document: (METHOD, path).
fn documented() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(include_str!("../src/api/openapi.json")).unwrap();
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// The routes `src/api/mod.rs` declares: (METHOD, path) of each `.route("…", get(…).post(…))`.
fn routed() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/api/mod.rs");
    let mut ops = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        let call = &rest[at + ".route(".len()..];
        // The call's text, up to its closing parenthesis.
        let mut depth = 1;
        let end = call
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("a closed .route( call");
        let call = &call[..end];
        rest = &rest[at + ".route(".len() + end..];
        let path = call.split('"').nth(1).expect("a path literal");
        for method in ["get", "post", "put", "delete", "patch"] {
            let mut from = 0;
            while let Some(i) = call[from..].find(&format!("{method}(")) {
                let i = from + i;
                let before = call[..i].chars().last();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    ops.insert((method.to_uppercase(), path.to_string()));
                }
                from = i + method.len();
            }
        }
    }
    ops
}

#[test]
fn every_route_has_a_row() {
    let documented = documented();
    let routed = routed();
    assert!(
        routed.len() >= 20,
        "the router's routes are found: {routed:?}"
    );
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from src/api/openapi.json (and so from this table): {undocumented:?}"
    );
    let rows: BTreeSet<(String, String)> = ROWS
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let missing: Vec<_> = documented.difference(&rows).collect();
    assert!(
        missing.is_empty(),
        "operations without a row in tests/authz_matrix.rs ROWS: {missing:?}"
    );
}

#[tokio::test]
async fn every_operation_for_every_role() {
    // What the router serves, documented or not yet.
    let documented: BTreeSet<_> = documented().union(&routed()).cloned().collect();
    let mut world = World::new(&documented).await;
    if !world.invitations {
        // No invitations in this build, so no guests: the guest column is not checked.
        eprintln!("SKIPPED: the guest column (invitations are not routed)");
    }
    let mut wrong = Vec::new();
    let mut checked = 0;
    for row in ROWS {
        if !documented.contains(&(row.method.to_string(), row.path.to_string())) {
            eprintln!("SKIPPED: {} {} is not routed (yet)", row.method, row.path);
            continue;
        }
        for (who, expect) in COLUMNS.iter().zip(row.expect) {
            if *who == Who::Guest && !world.invitations {
                continue;
            }
            let (status, body) = world.call(row, *who).await;
            checked += 1;
            if !expect.accepts(status) {
                let body: String = body.chars().take(200).collect();
                wrong.push(format!(
                    "{} {} ({:?}) as {who:?}: expected {expect:?}, got {status} {body}",
                    row.method, row.path, row.target
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} calls answered otherwise:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
