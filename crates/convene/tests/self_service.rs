//! Self-service accounts: one's display name, language and password; an administrator
//! forcing a password; logins unique and matched without regard to case (also on an
//! install that already holds logins differing only in case).

use crate::common;

use common::{Api, TestNode, test_settings};
use convene::store::Store;
use serde_json::{Value, json};

async fn signed_in(node: &TestNode, login: &str, password: &str) -> Api {
    let mut api = node.client();
    api.login(login, password).await;
    api
}

#[tokio::test]
async fn display_name_and_language_are_validated_and_kept() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["tom"]).await;
    let tom = signed_in(&node, "tom", "tom-password").await;
    assert_eq!(tom.get("/api/v1/me").await["language"], Value::Null);

    let (status, me) = tom
        .send(
            "PUT",
            "/api/v1/me",
            Some(json!({"display_name": "  Tom Baker ", "language": "DE"})),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["display_name"].as_str(), me["language"].as_str()),
        (Some("Tom Baker"), Some("de"))
    );
    // An absent field stays; null is the browser's language again.
    let me = tom
        .send("PUT", "/api/v1/me", Some(json!({"display_name": "T. B."})))
        .await
        .1;
    assert_eq!(me["language"], "de");
    let me = tom
        .send("PUT", "/api/v1/me", Some(json!({"language": null})))
        .await
        .1;
    assert_eq!(
        (me["language"].clone(), me["display_name"].as_str()),
        (Value::Null, Some("T. B."))
    );
    assert_eq!(tom.get("/api/v1/me").await["display_name"], "T. B.");

    for bad in [
        json!({"language": "klingon"}),
        json!({"language": "en-US-x-very-long"}),
        json!({"language": 7}),
        json!({"display_name": "a\nb"}),
        json!({"display_name": "x".repeat(101)}),
        json!({"display_name": "ok", "role": "admin"}),
        json!({"login": "root"}),
    ] {
        let (status, body) = tom.send("PUT", "/api/v1/me", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    // The role did not move.
    assert_eq!(tom.get("/api/v1/me").await["role"], "user");
    assert_eq!(
        node.client()
            .send("PUT", "/api/v1/me", Some(json!({})))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_the_other_sessions() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["ann"]).await;
    let room = admin.create_room("Chemistry", 10).await;
    let here = signed_in(&node, "ann", "ann-password").await;
    let elsewhere = signed_in(&node, "ann", "ann-password").await;
    let mut live = elsewhere.join(room).await;

    let change = |current: &str, new: &str| json!({"current": current, "new": new});
    for (body, why) in [
        (change("ann-password", "short"), "policy"),
        (change("ann-password", "ann-password"), "the same"),
        (change("", "a-new-password"), "no current"),
        (json!({"new": "a-new-password"}), "missing current"),
        (
            json!({"current": "ann-password", "new": "a-new-password", "x": 1}),
            "unknown field",
        ),
    ] {
        let (status, out) = here.send("POST", "/api/v1/me/password", Some(body)).await;
        assert_eq!(status, 400, "{why}: {out}");
    }
    let (status, out) = here
        .send(
            "POST",
            "/api/v1/me/password",
            Some(change("not-it-at-all", "a-new-password")),
        )
        .await;
    assert_eq!(
        (status, out["error"]["code"].as_str()),
        (403, Some("wrong_password"))
    );
    // A wrong current password ends nothing.
    assert_eq!(here.send("GET", "/api/v1/me", None).await.0, 200);
    assert_eq!(elsewhere.send("GET", "/api/v1/me", None).await.0, 200);

    let (status, out) = here
        .send(
            "POST",
            "/api/v1/me/password",
            Some(change("ann-password", "a-new-password")),
        )
        .await;
    assert_eq!(
        (status, out["other_sessions_ended"].as_i64()),
        (200, Some(1)),
        "{out}"
    );
    assert_eq!(
        here.send("GET", "/api/v1/me", None).await.0,
        200,
        "this session stays"
    );
    assert_eq!(
        elsewhere.send("GET", "/api/v1/me", None).await.0,
        401,
        "the other ended"
    );
    let closed = live.expect_close().await;
    assert_eq!(closed.code, 4003, "{closed:?}");
    assert!(closed.reason.contains("password"), "{closed:?}");
    let (status, _) = node
        .client()
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "ann", "password": "ann-password"})),
        )
        .await;
    assert_eq!(status, 401, "the old password no longer signs in");
    signed_in(&node, "ann", "a-new-password").await;
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_like_sign_ins() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    settings.login_throttle_after = Some(2);
    let node = TestNode::start(settings.resolve().unwrap()).await;
    let admin = node.admin().await;
    admin.create_people(&["bea"]).await;
    let bea = signed_in(&node, "bea", "bea-password").await;
    let wrong = json!({"current": "guessing-away", "new": "a-new-password"});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            bea.send("POST", "/api/v1/me/password", Some(wrong.clone()))
                .await
                .0,
        );
    }
    assert_eq!(&statuses[..2], &[403, 403], "{statuses:?}");
    assert!(statuses[2..].iter().all(|s| *s == 429), "{statuses:?}");
    // The same count as sign-in: the account's sign-ins wait too.
    let (status, _) = node
        .client()
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "bea", "password": "bea-password"})),
        )
        .await;
    assert_eq!(status, 429);
    assert_eq!(
        bea.send("GET", "/api/v1/me", None).await.0,
        200,
        "the session is fine"
    );
}

#[tokio::test]
async fn an_administrator_forcing_a_password_ends_sessions_and_connections() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let carl = admin
        .create_user("carl", "carl-password", "organiser")
        .await;
    let room = admin.create_room("Physics", 10).await;
    let session = signed_in(&node, "carl", "carl-password").await;
    let mut live = session.join(room).await;
    let (status, _) = admin
        .send(
            "PUT",
            &format!("/api/v1/users/{carl}"),
            Some(json!({"password": "forced-password"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(session.send("GET", "/api/v1/me", None).await.0, 401);
    let closed = live.expect_close().await;
    assert_eq!(closed.code, 4003, "{closed:?}");
    signed_in(&node, "carl", "forced-password").await;
}

#[tokio::test]
async fn logins_are_unique_and_matched_without_regard_to_case() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_user("tom.b", "tom-password", "user").await;
    let (status, body) = admin
        .send(
            "POST",
            "/api/v1/users",
            Some(json!({"login": "Tom.B", "password": "other-password"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let mut api = node.client();
    let me = api.login("TOM.b", "tom-password").await;
    assert_eq!(me["user"]["login"], "tom.b", "the login as stored");
    let (status, _) = node
        .client()
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "TOM.B", "password": "wrong-password"})),
        )
        .await;
    assert_eq!(status, 401);
    // The admin account too.
    node.client().login("Admin", common::ADMIN_PASSWORD).await;
}

/// The schema as migrations 1 to 3 left it, with logins that differ only in case.
async fn install_with_case_duplicates(url: &str, postgres: bool) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let id_pk = if postgres {
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    } else {
        "INTEGER PRIMARY KEY AUTOINCREMENT"
    };
    let migrations = [
        include_str!("../migrations/0001_core.sql"),
        include_str!("../migrations/0002_cluster.sql"),
        include_str!("../migrations/0003_leases.sql"),
    ];
    sqlx::query(
        "CREATE TABLE schema_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (i, text) in migrations.iter().enumerate() {
        let sql = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("$ID_PK", id_pk);
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'old', 0)",
        )
        .bind(i as i64 + 1)
        .execute(&pool)
        .await
        .unwrap();
    }
    for login in ["tom.b", "Tom.B", "ann", "TOM.B"] {
        sqlx::query(
            "INSERT INTO users (login, password_hash, role, display_name, enabled, created_at)
             VALUES ($1, 'x', 'user', $1, 1, 0)",
        )
        .bind(login)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
}

async fn duplicates_are_renamed(url: &str) {
    let store = Store::open(url).await.expect("the migrations apply");
    let logins: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.login)
        .collect();
    assert_eq!(logins, ["ann", "tom.b", "Tom.B.dup-2", "TOM.B.dup-4"]);
    let (tom, _) = store.user_with_hash("TOM.B").await.unwrap().unwrap();
    assert_eq!(tom.login, "tom.b", "the oldest keeps its login");
    assert!(
        store
            .create_user("ANN", "h", convene::store::Role::User, "")
            .await
            .unwrap()
            .is_none(),
        "unique in any case from now on"
    );
    store.close().await;
}

#[tokio::test]
async fn an_install_with_logins_differing_in_case_still_migrates_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/old.db?mode=rwc", dir.path().display());
    install_with_case_duplicates(&url, false).await;
    duplicates_are_renamed(&url).await;
}

#[tokio::test]
async fn an_install_with_logins_differing_in_case_still_migrates_on_postgres() {
    let Some(pg) = common::pg::server() else {
        return;
    };
    let url = pg.create_database("case_duplicates").await;
    install_with_case_duplicates(&url, true).await;
    duplicates_are_renamed(&url).await;
}

/// `convene user add` gives the roles an administrator gives; guests come only from
/// invitations.
#[test]
fn the_command_line_refuses_to_make_guests() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_convene"))
        .current_dir(dir.path())
        .env_remove("CONVENE_ADMIN_PASSWORD")
        .args(["user", "add", "gus", "--role", "guest"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(b"gus-password\n");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("guests come only from invitations"),
        "{stderr}"
    );
}
