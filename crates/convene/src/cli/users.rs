//! `convene user …`: accounts, on the same database as the server.

use super::UserAction;
use crate::auth::{account, password};
use crate::cluster::events::{Event, publish_with};
use crate::config::Config;
use crate::store::{AccountError, Role, Store};
use std::io::BufRead;

fn read_password() -> anyhow::Result<String> {
    eprint!("Password: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    password::check_policy(&pw).map_err(|e| anyhow::anyhow!(e))?;
    Ok(pw)
}

pub async fn run(config: Config, action: UserAction) -> anyhow::Result<()> {
    let store = Store::open(&config.database_url).await?;
    let result = act(&store, action, &config).await;
    store.close().await;
    result
}

async fn act(store: &Store, action: UserAction, config: &Config) -> anyhow::Result<()> {
    match action {
        UserAction::Add {
            login,
            role,
            display_name,
        } => {
            account::check_login(&login).map_err(|e| anyhow::anyhow!(e))?;
            let role = Role::parse(&role)
                .filter(|r| *r != Role::Guest)
                .ok_or_else(|| {
                    anyhow::anyhow!("role must be admin, organiser, user or webservice (guests come only from invitations)")
                })?;
            let name = display_name.unwrap_or_else(|| login.clone());
            account::check_display_name(&name).map_err(|e| anyhow::anyhow!(e))?;
            let hash = password::hash(&password::pool(), read_password()?).await?;
            match store.create_user(&login, &hash, role, name.trim()).await? {
                Some(u) => println!("created {} (id {}, {})", u.login, u.id, u.role.as_str()),
                None => anyhow::bail!("the login {login:?} is taken"),
            }
            let admins = store
                .list_users()
                .await?
                .into_iter()
                .filter(|u| u.role == Role::Admin && u.enabled)
                .count();
            if admins == 0 {
                // `serve` makes `admin` whenever no enabled administrator exists.
                eprintln!(
                    "note: there is no administrator yet; `convene serve` creates the account `admin` \
                     at its next start (a generated password goes to {}, unless \
                     CONVENE_ADMIN_PASSWORD is set), or add one now with \
                     `convene user add LOGIN --role admin`",
                    config
                        .data_dir
                        .join(crate::server::ADMIN_PASSWORD_FILE)
                        .display()
                );
            }
        }
        UserAction::List => {
            println!(
                "{:>6}  {:<24} {:<11} {:<8} display name",
                "id", "login", "role", "enabled"
            );
            for u in store.list_users().await? {
                println!(
                    "{:>6}  {:<24} {:<11} {:<8} {}",
                    u.id.0,
                    u.login,
                    u.role.as_str(),
                    if u.enabled { "yes" } else { "no" },
                    u.display_name
                );
            }
        }
        UserAction::Passwd { login } => {
            let (user, _) = store
                .user_with_hash(&login)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no account {login:?}"))?;
            let hash = password::hash(&password::pool(), read_password()?).await?;
            store
                .update_user(user.id, None, None, None, Some(&hash))
                .await
                .map_err(|e| anyhow::anyhow!("cannot change the password of {login:?}: {e}"))?;
            store.delete_user_sessions(user.id).await?;
            println!("password of {login} changed; its sessions were ended");
        }
        UserAction::Delete { login } => {
            let (user, _) = store
                .user_with_hash(&login)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no account {login:?}"))?;
            match store.delete_user(user.id).await {
                Ok(()) => {}
                Err(AccountError::LastAdmin) => anyhow::bail!(
                    "{login} is the last enabled administrator: make another account an administrator first"
                ),
                Err(AccountError::NotFound) => anyhow::bail!("no account {login:?}"),
                Err(AccountError::Db(e)) => return Err(e.into()),
            }
            // Running nodes disconnect the account's participants.
            publish_with(
                store,
                &Event::UserClosed {
                    user: user.id,
                    reason: "your account was deleted".into(),
                },
            )
            .await?;
            println!("deleted {login}");
        }
    }
    Ok(())
}
