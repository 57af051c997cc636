//! The `convene` binary itself: zero-configuration start, settings errors, SIGTERM,
//! and the user commands on the same database.

use crate::common;

use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

fn convene() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_convene"));
    cmd.env_remove("CONVENE_ADMIN_PASSWORD");
    cmd
}

use common::net::free_port;

fn user_cmd(dir: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut cmd = convene();
    cmd.current_dir(dir).arg("user").args(args);
    let out = common::run_with_stdin(cmd, stdin);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn bad_settings_stop_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = convene()
        .current_dir(dir.path())
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`listen`"));

    let out = convene()
        .current_dir(dir.path())
        .env("CONVENE_DATABASE_URL", "mysql://nope")
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`database_url`"));

    std::fs::write(dir.path().join("c.toml"), "node_idd = 3\n").unwrap();
    let out = convene()
        .current_dir(dir.path())
        .args(["serve", "--config", "c.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("node_idd"));
}

#[test]
fn user_commands_share_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = user_cmd(
        dir.path(),
        &["add", "teacher", "--role", "admin"],
        "teacher-password\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains("created teacher"));
    let (ok, _, err) = user_cmd(dir.path(), &["add", "teacher"], "another-password\n");
    assert!(!ok && err.contains("taken"));
    let (ok, _, err) = user_cmd(dir.path(), &["add", "shorty"], "short\n");
    assert!(!ok && err.contains("at least 8"));
    let (ok, out, _) = user_cmd(dir.path(), &["list"], "");
    assert!(ok && out.contains("teacher") && out.contains("admin"));
    let (ok, out, _) = user_cmd(dir.path(), &["passwd", "teacher"], "changed-password\n");
    assert!(ok && out.contains("changed"));
    // The same rules as the API: the display name, and the last administrator stays.
    let (ok, _, err) = user_cmd(
        dir.path(),
        &["add", "pupil", "--display-name", "two\nlines"],
        "pupil-password\n",
    );
    assert!(!ok && err.contains("display_name"), "{err}");
    let (ok, _, err) = user_cmd(dir.path(), &["delete", "teacher"], "");
    assert!(!ok && err.contains("last enabled administrator"), "{err}");
    let (ok, _, err) = user_cmd(
        dir.path(),
        &[
            "add",
            "head",
            "--role",
            "admin",
            "--display-name",
            "  Head  ",
        ],
        "head-password\n",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = user_cmd(dir.path(), &["delete", "teacher"], "");
    assert!(ok, "{err}");
    let (_, out, _) = user_cmd(dir.path(), &["list"], "");
    assert!(!out.contains("teacher"));
    assert!(
        out.lines()
            .any(|l| l.contains("head") && l.ends_with(" Head")),
        "{out}"
    );
}

/// Every command checks every setting (a command that runs, `user list` here, stops at
/// once instead of running with a silently replaced value).
#[test]
fn settings_log_and_admin_password_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = convene()
        .current_dir(dir.path())
        .args(["user", "--log", "convene=loud", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`log`"));
    let out = convene()
        .current_dir(dir.path())
        .env("CONVENE_ADMIN_PASSWORD", "p".repeat(257))
        .args(["user", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`admin_password`") && err.contains("256"),
        "{err}"
    );
}

/// `check` on a database no node has used: every check passes, the storage is not
/// claimed yet, and no test file is left behind.
#[test]
fn check_on_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(dir.path(), &["check"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("not yet claimed"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
    let probes = dir.path().join("data/files/probes");
    let left: Vec<_> = std::fs::read_dir(&probes)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `serve` with nothing but a port: SQLite under ./data, a generated admin password
/// in a file the log names (never in the log), a clean stop on SIGTERM.
#[tokio::test]
async fn zero_configuration_serve_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = convene()
        .current_dir(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        // The one setting a test must give: no fixed UDP port on a shared machine.
        .env("CONVENE_MEDIA_PORT", "0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("log line");
        let named = line.contains("admin-password.txt");
        log.push(line);
        if named {
            break;
        }
    }
    let password = std::fs::read_to_string(dir.path().join("data/admin-password.txt"))
        .unwrap()
        .trim()
        .to_string();
    assert!(dir.path().join("data/convene.db").exists());
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready);
    let res: Value = http
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"login": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["user"]["role"], "admin");
    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
    // The secret is in the file only, never in the log.
    let all = log
        .iter()
        .chain(rest.iter())
        .filter(|l| l.contains(&password))
        .count();
    assert_eq!(all, 0);
}

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = convene().current_dir(dir).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn server_commands_manage_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, out, err) = run(
        d,
        &[
            "server",
            "add",
            "2",
            "--name",
            "east",
            "--address",
            "10.1.2.3",
            "--weight",
            "2",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("http://10.1.2.3:5080"), "{out}");
    let (ok, _, err) = run(d, &["server", "add", "2", "--address", "x"]);
    assert!(!ok && err.contains("exists"), "{err}");
    let (ok, _, err) = run(
        d,
        &[
            "server",
            "add",
            "3",
            "--address",
            "x",
            "--protocol",
            "gopher",
        ],
    );
    assert!(!ok && err.contains("protocol"), "{err}");
    // The API's rules: address, base path, id range; the base path is normalised.
    let (ok, _, err) = run(
        d,
        &[
            "server",
            "add",
            "3",
            "--address",
            "a b",
            "--base-path",
            "x y",
        ],
    );
    assert!(!ok && err.contains("address"), "{err}");
    let (ok, _, err) = run(
        d,
        &["server", "add", "3", "--address", "x", "--base-path", "x y"],
    );
    assert!(!ok && err.contains("base_path"), "{err}");
    for id in ["0", "1000001"] {
        let (ok, _, err) = run(d, &["server", "add", id, "--address", "x"]);
        assert!(!ok && err.contains("between 1 and 1000000"), "{id}: {err}");
    }
    let (ok, out, err) = run(
        d,
        &[
            "server",
            "add",
            "3",
            "--address",
            " x ",
            "--base-path",
            "meet/",
        ],
    );
    assert!(ok && out.contains("http://x:5080/meet"), "{out}{err}");
    let (ok, _, err) = run(d, &["server", "update", "3", "--address", "a b"]);
    assert!(!ok && err.contains("address"), "{err}");
    let (ok, out, _) = run(
        d,
        &[
            "server",
            "update",
            "2",
            "--http-port",
            "443",
            "--protocol",
            "https",
            "--base-path",
            "/meet",
        ],
    );
    assert!(ok && out.contains("https://10.1.2.3/meet"), "{out}");
    let (_, out, _) = run(d, &["server", "list"]);
    let line = out.lines().find(|l| l.contains("east")).unwrap();
    assert!(line.contains("down"), "added but never started: {line}");
    assert!(run(d, &["server", "deactivate", "2"]).0);
    let (_, out, _) = run(d, &["server", "list"]);
    assert!(
        out.lines()
            .find(|l| l.contains("east"))
            .unwrap()
            .contains("inactive")
    );
    assert!(run(d, &["server", "activate", "2"]).0);
    let (ok, out, _) = run(d, &["server", "drain", "2", "--deadline-seconds", "5"]);
    assert!(ok && out.contains("draining"), "{out}");
    let (ok, out, _) = run(d, &["server", "drain", "3"]);
    assert!(
        ok && out.contains("within 30 s"),
        "the API's default: {out}"
    );
    let (ok, _, err) = run(d, &["server", "drain", "7"]);
    assert!(!ok && err.contains("no server 7"), "{err}");
}
