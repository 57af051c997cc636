//! A burst of sign-ins larger than the password-hashing queue: those that find it
//! full get 503 `busy` with Retry-After, never "wrong password", and are not counted
//! toward throttling.

use crate::common;

use common::TestNode;
use serde_json::json;

const ACCOUNTS: usize = 40;
/// Wrong passwords in the first burst: fewer than the throttling limit, which counts
/// failures per address too.
const WRONG: usize = 2;
const LIMIT: u32 = 3;

#[tokio::test]
async fn a_full_hashing_queue_is_busy_never_wrong_password() {
    // Two threads and one waiting hash: a burst of dozens overflows it. Set before the
    // node starts (its pool is made then); this test binary holds only this test.
    convene::auth::password::set_queue_len_for_tests(1);
    let dir = tempfile::tempdir().unwrap();
    let config = convene::Settings {
        login_throttle_after: Some(LIMIT),
        ..common::test_settings(dir.path())
    }
    .resolve()
    .unwrap();
    let node = TestNode::start(config).await;
    let admin = node.admin().await;
    for i in 0..ACCOUNTS + WRONG {
        admin
            .create_user(&format!("p{i}"), &format!("p{i}-password"), "user")
            .await;
    }
    let http = reqwest::Client::new();
    let mut busy = 0;
    let mut ok = 0;
    let mut wrong = 0;
    // Rounds until one saw the queue full; each account signs in once per round, so
    // the per-account reservation of parallel attempts plays no part.
    for round in 0..5 {
        let mut burst = Vec::new();
        let accounts = if round == 0 {
            ACCOUNTS + WRONG
        } else {
            ACCOUNTS
        };
        for i in 0..accounts {
            let http = http.clone();
            let url = format!("{}/api/v1/login", node.url);
            let password = if i < ACCOUNTS {
                format!("p{i}-password")
            } else {
                "not-the-password".to_string()
            };
            burst.push(tokio::spawn(async move {
                let res = http
                    .post(url)
                    .json(&json!({"login": format!("p{i}"), "password": password}))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let retry_after = res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let body: serde_json::Value = res.json().await.unwrap();
                (i, status, retry_after, body)
            }));
        }
        for answer in burst {
            let (i, status, retry_after, body) = answer.await.unwrap();
            match status {
                503 => {
                    assert_eq!(body["error"]["code"], "busy", "{body}");
                    assert!(retry_after.is_some_and(|s| s >= 1), "Retry-After: {body}");
                    busy += 1;
                }
                200 => {
                    assert!(i < ACCOUNTS, "a wrong password signed in: p{i}");
                    ok += 1;
                }
                401 => {
                    assert!(i >= ACCOUNTS, "the right password was refused: p{i} {body}");
                    wrong += 1;
                }
                other => panic!("p{i}: unexpected {other} {body}"),
            }
        }
        if busy > 0 {
            break;
        }
    }
    assert!(busy > 0, "the burst never filled the queue");
    assert!(ok > 0, "nobody signed in during the burst");

    // Only real wrong passwords were counted as failures.
    let metrics = http
        .get(format!("{}/metrics", node.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("convene_login_failures_total {wrong}\n")),
        "{wrong} wrong passwords: {metrics}"
    );

    // Nobody is throttled by the busy answers: every right password signs in at once.
    for i in 0..ACCOUNTS + WRONG {
        let mut api = node.client();
        api.login(&format!("p{i}"), &format!("p{i}-password")).await;
    }
}
