//! First-run traps (issue 8, item 8, the server's side): the generated admin password
//! is in a private file that the log names at any log level; an unknown log level is
//! refused; `convene user add` before the first `serve` still leaves an administrator;
//! `convene check` passes on a healthy running node.

use crate::common;

use common::net::free_port;
use common::tls::{Serve, insecure_client};
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn convene(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_convene"));
    cmd.current_dir(dir)
        .env_remove("CONVENE_ADMIN_PASSWORD")
        .env_remove("CONVENE_LOG");
    cmd
}

/// Runs `convene ARGS` with `stdin`; (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut cmd = convene(dir);
    cmd.args(args);
    let out = common::run_with_stdin(cmd, stdin);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `serve` in `dir` on a free loopback port with `extra` flags, ready.
async fn serve(dir: &Path, extra: &[&str]) -> (Serve, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["--listen", listen.as_str(), "--media-port", "0"];
    args.extend(extra);
    let mut node = Serve::spawn(dir, &args, &[]);
    let base = format!("http://{listen}");
    node.wait_ready(&insecure_client(None), &base).await;
    (node, base)
}

async fn signs_in(base: &str, login: &str, password: &str) -> bool {
    insecure_client(None)
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

fn password_file(dir: &Path) -> std::path::PathBuf {
    dir.join("data/admin-password.txt")
}

#[tokio::test]
async fn the_generated_password_is_in_a_private_file_the_log_names_even_at_log_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut node, base) = serve(dir.path(), &["--log", "error"]).await;
    let file = password_file(dir.path());
    let log = node.wait_log("admin-password.txt").await;
    assert!(
        log.contains(&std::path::absolute(&file).unwrap().display().to_string()),
        "the full path: {log}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(password.len() >= 12, "{password}");
    assert!(!log.contains(&password), "never in the log: {log}");
    assert!(signs_in(&base, "admin", &password).await);
    assert!(node.stop().success());

    // The next start neither makes another admin nor touches the file.
    let (node, base) = serve(dir.path(), &["--log", "error"]).await;
    assert!(signs_in(&base, "admin", &password).await);
    assert!(
        !node.log_text().contains("admin-password"),
        "{}",
        node.log_text()
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        password.as_str()
    );
}

#[test]
fn an_unknown_log_level_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["serve", "--log", "loud"][..],
        &["serve", "--log", "info,convene=loud"][..],
        &["check", "--log", "loud"][..],
    ] {
        let (code, _, err) = run(dir.path(), args, "");
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("`log`") && err.contains("loud"), "{err}");
    }
    let out = convene(dir.path())
        .args(["serve"])
        .env("CONVENE_LOG", "loud")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`log`"));
    assert!(!dir.path().join("data").exists(), "refused before anything");
}

#[tokio::test]
async fn user_add_before_the_first_serve_still_leaves_an_administrator() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        dir.path(),
        &["user", "add", "alice", "--role", "user"],
        "alice-password\n",
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains("no administrator yet"), "{err}");
    let (node, base) = serve(dir.path(), &[]).await;
    node.wait_log("admin-password.txt").await;
    let password = std::fs::read_to_string(password_file(dir.path())).unwrap();
    assert!(signs_in(&base, "admin", password.trim()).await);
    assert!(signs_in(&base, "alice", "alice-password").await);
    drop(node);

    // An administrator made before the first start is the one: no `admin` then.
    let other = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        other.path(),
        &["user", "add", "head", "--role", "admin"],
        "head-password\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("no administrator"), "{err}");
    let (mut node, base) = serve(other.path(), &[]).await;
    assert!(signs_in(&base, "head", "head-password").await);
    assert!(node.stop().success());
    assert!(!password_file(other.path()).exists());
    assert!(
        !node.log_text().contains("created the account"),
        "{}",
        node.log_text()
    );
}

#[tokio::test]
async fn check_passes_on_a_healthy_running_node_and_fails_for_another_with_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("convene.toml"),
        format!("listen = \"127.0.0.1:{port}\"\nmedia_port = 0\n"),
    )
    .unwrap();
    let mut node = Serve::spawn(dir.path(), &["--config", "convene.toml"], &[]);
    let base = format!("http://127.0.0.1:{port}");
    node.wait_ready(&insecure_client(None), &base).await;

    let (code, out, err) = run(dir.path(), &["check", "--config", "convene.toml"], "");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.contains("FAIL"), "{out}");
    assert!(out.contains("node id 1 is this node's"), "{out}");

    // Another node's settings (another port) with the same id and database: refused.
    let other = format!("127.0.0.1:{}", free_port());
    let (code, out, _) = run(
        dir.path(),
        &["check", "--config", "convene.toml", "--listen", &other],
        "",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL  node id 1 is in use"), "{out}");
    assert!(node.stop().success());
}
