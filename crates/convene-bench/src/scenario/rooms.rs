//! `rooms`: many participants spread over many conference rooms. Sets up accounts,
//! rooms and sessions, joins everybody (bounded concurrency), holds the connections
//! open while some chat goes round, then closes them all.

use crate::client::{Api, Created, check_base_url};
use crate::participant::{Command, Ending, JoinTiming, Participant, Recorder, join};
use crate::procfs::{MemoryLog, MemorySample};
use crate::report::{
    ChatReport, CloseReport, HoldReport, JoinReport, MARKDOWN_HEADER, RoomsReport, SetupReport,
    markdown_row, print_json, secs,
};
use crate::stats::{Percentiles, micros};
use anyhow::{Context, bail};
use clap::Args;
use futures_util::StreamExt;
use futures_util::stream;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The load, shared by every scenario that drives rooms.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// WebSocket participants to hold open.
    #[arg(long, default_value_t = 1000)]
    pub participants: usize,
    /// Rooms to spread them over (round robin).
    #[arg(long, default_value_t = 50)]
    pub rooms: usize,
    /// Accounts to use (default: one per participant); participants share them round robin.
    #[arg(long)]
    pub users: Option<usize>,
    /// Seconds to hold every connection open once all have joined.
    #[arg(long, default_value_t = 10)]
    pub hold_secs: u64,
    /// Joins in flight at once.
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// Account creations and logins in flight at once. Each costs the server an
    /// Argon2 hash (19 MiB, tens of ms of CPU), so keep this near the core count.
    #[arg(long, default_value_t = 2)]
    pub setup_concurrency: usize,
    /// Chat messages sent in each room during the hold (0: no chat).
    #[arg(long, default_value_t = 5)]
    pub chat_per_room: usize,
    /// Length of a chat round (one message per room), in ms. The messages of a
    /// round are spread evenly over it, unless --chat-burst.
    #[arg(long, default_value_t = 500)]
    pub chat_interval_ms: u64,
    /// Send the messages of a round (one per room) all at once, then wait.
    #[arg(long)]
    pub chat_burst: bool,
    /// Send whiteboard strokes (a `board` `put` of one 3-point pen stroke) instead of
    /// chat messages, timed the same way; the accounts are then created as
    /// administrators, who may draw in every room.
    #[arg(long)]
    pub board: bool,
    /// Seconds to let the server settle before sampling its memory under load.
    #[arg(long, default_value_t = 2)]
    pub settle_secs: u64,
    /// Prefix of the bench's logins and room names (reused by later runs).
    #[arg(long, default_value = "bench")]
    pub prefix: String,
    /// Password of the bench's accounts.
    #[arg(long, default_value = "bench-password-1")]
    pub user_password: String,
}

impl LoadArgs {
    pub fn users(&self) -> usize {
        self.users.unwrap_or(self.participants).max(1)
    }

    /// The most participants any one room gets.
    fn per_room(&self) -> usize {
        self.participants.div_ceil(self.rooms)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        if self.participants == 0 || self.rooms == 0 {
            bail!("--participants and --rooms must be at least 1");
        }
        if self.concurrency == 0 || self.setup_concurrency == 0 {
            bail!("--concurrency and --setup-concurrency must be at least 1");
        }
        if self.per_room() > 10_000 {
            bail!("a room holds at most 10000 participants; use more --rooms");
        }
        if self.user_password.len() < 8 {
            bail!("--user-password must have at least 8 characters");
        }
        Ok(())
    }
}

/// `convene-bench rooms`: the load against a node that is already running.
#[derive(Debug, Clone, Args)]
pub struct RoomsCmd {
    /// Base URL of the node.
    #[arg(long, default_value = "http://127.0.0.1:5080")]
    pub url: String,
    #[arg(long, default_value = "admin")]
    pub admin_login: String,
    #[arg(long, env = "CONVENE_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: String,
    /// The server's process id: sample its resident memory (from /proc) idle and loaded.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Print the results as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub load: LoadArgs,
}

pub async fn run(cmd: RoomsCmd) -> anyhow::Result<()> {
    check_base_url(&cmd.url)?;
    cmd.load.check()?;
    crate::procfs::warn_if_few_files(cmd.load.participants, "the participants");
    let api = Api::new(&cmd.url, cmd.load.concurrency)?;
    let mut memory = MemoryLog::new(cmd.pid);
    memory.record("idle");
    let prepared = setup(&api, &cmd.admin_login, &cmd.admin_password, &cmd.load).await?;
    memory.record("after setup");
    let mut report = load(&api, &prepared, &cmd.load, &mut memory).await?;
    report.memory = memory.into_phases();
    if cmd.json {
        print_json(&report)?;
    } else {
        report.print();
        if cmd.pid.is_some() {
            println!();
            println!("{MARKDOWN_HEADER}");
            let idle = report.memory_at("idle");
            println!(
                "{}",
                markdown_row(&report, idle, report.memory_at("after setup"))
            );
        }
    }
    Ok(())
}

/// Accounts, rooms and sessions ready for the load.
pub struct Prepared {
    /// Room ids, in the order participants are dealt to them.
    pub rooms: Vec<i64>,
    /// One session per account.
    pub sessions: Vec<String>,
    pub report: SetupReport,
}

fn user_login(prefix: &str, i: usize) -> String {
    format!("{prefix}-u{i:05}")
}

fn room_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-room-{i:03}")
}

/// Creates (or reuses) the accounts and rooms and signs every account in once.
pub async fn setup(
    api: &Api,
    admin_login: &str,
    admin_password: &str,
    load: &LoadArgs,
) -> anyhow::Result<Prepared> {
    let mut report = SetupReport {
        users: load.users(),
        ..SetupReport::default()
    };
    let admin = api
        .login(admin_login, admin_password)
        .await
        .context("cannot sign in as the administrator")?;

    eprintln!("creating {} accounts…", report.users);
    let start = Instant::now();
    let created: Vec<anyhow::Result<Created>> = stream::iter(0..report.users)
        .map(|i| {
            let (api, admin) = (api.clone(), admin.clone());
            let login = user_login(&load.prefix, i);
            let password = load.user_password.clone();
            // Administrators moderate every room, so they may draw on its boards.
            let role = if load.board { "admin" } else { "user" };
            async move { api.create_user(&admin, &login, &password, role).await }
        })
        .buffer_unordered(load.setup_concurrency)
        .collect()
        .await;
    for result in created {
        match result? {
            Created::New => report.users_created += 1,
            Created::Existing => report.users_existing += 1,
        }
    }
    report.user_create_secs = secs(start.elapsed());

    let rooms = setup_rooms(api, &admin, load, &mut report).await?;

    eprintln!("signing {} accounts in…", report.users);
    let start = Instant::now();
    let logins: Vec<anyhow::Result<(usize, String, u64)>> = stream::iter(0..report.users)
        .map(|i| {
            let api = api.clone();
            let login = user_login(&load.prefix, i);
            let password = load.user_password.clone();
            async move {
                let t = Instant::now();
                let sid = api.login(&login, &password).await.with_context(|| {
                    format!("cannot sign in as {login} (created earlier with another --user-password? use another --prefix)")
                })?;
                Ok((i, sid, micros(t.elapsed())))
            }
        })
        .buffer_unordered(load.setup_concurrency)
        .collect()
        .await;
    report.login_secs = secs(start.elapsed());
    let mut sessions = vec![String::new(); report.users];
    let mut latencies = Vec::with_capacity(report.users);
    for result in logins {
        let (i, sid, us) = result?;
        sessions[i] = sid;
        latencies.push(us);
    }
    report.login = Percentiles::from_micros(&latencies);
    Ok(Prepared {
        rooms,
        sessions,
        report,
    })
}

/// Finds the bench's rooms by name, creating missing ones and enlarging small ones.
async fn setup_rooms(
    api: &Api,
    admin: &str,
    load: &LoadArgs,
    report: &mut SetupReport,
) -> anyhow::Result<Vec<i64>> {
    let capacity = i64::try_from(load.per_room()).context("too many participants per room")?;
    let existing: HashMap<String, (i64, i64)> = api
        .rooms(admin)
        .await?
        .into_iter()
        .map(|r| (r.name, (r.id, r.capacity)))
        .collect();
    let mut ids = Vec::with_capacity(load.rooms);
    for i in 0..load.rooms {
        let name = room_name(&load.prefix, i);
        let id = match existing.get(&name) {
            Some(&(id, current)) if current >= capacity => {
                report.rooms_reused += 1;
                id
            }
            Some(&(id, _)) => {
                report.rooms_reused += 1;
                report.rooms_resized += 1;
                api.update_room(admin, id, &name, capacity).await?.id
            }
            None => {
                report.rooms_created += 1;
                api.create_room(admin, &name, capacity).await?.id
            }
        };
        ids.push(id);
    }
    Ok(ids)
}

/// Joins everybody, holds (with chat), closes, and reports.
pub async fn load(
    api: &Api,
    prepared: &Prepared,
    load: &LoadArgs,
    memory: &mut MemoryLog,
) -> anyhow::Result<RoomsReport> {
    let recorder = Arc::new(Recorder::new().drawing(load.board));
    let (participants, join_report) = join_all(api, prepared, load, &recorder).await;
    if participants.is_empty() {
        bail!(
            "no participant could join: {}",
            join_report.failures.join("; ")
        );
    }

    tokio::time::sleep(Duration::from_secs(load.settle_secs)).await;
    memory.record("loaded");

    let hold_start = Instant::now();
    let chat_report = chat(&participants, load).await;
    let hold_end = hold_start + Duration::from_secs(load.hold_secs);
    // Leave the last chat two seconds to arrive, whatever --hold-secs says.
    let hold_end = hold_end.max(Instant::now() + Duration::from_secs(2));
    let mut hold_max: Option<MemorySample> = None;
    while Instant::now() < hold_end {
        if let Some(sample) = memory.read()
            && hold_max.is_none_or(|m| sample.vm_rss_kib > m.vm_rss_kib)
        {
            hold_max = Some(sample);
        }
        let left = hold_end.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
    }
    if let Some(sample) = hold_max {
        memory.push("hold max", sample);
    }
    let hold = HoldReport {
        secs: secs(hold_start.elapsed()),
        frames_received: recorder.frames(),
        frame_types: recorder.frame_types(),
        error_frames: recorder.error_frames(),
        notes: recorder.messages(),
    };

    eprintln!("closing {} connections…", participants.len());
    let close = close_all(participants).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    memory.record("after close");

    let fanout = recorder.fanout();
    let echo = recorder.echo();
    Ok(RoomsReport {
        url: api.base().to_string(),
        participants: load.participants,
        rooms: load.rooms,
        users: load.users(),
        concurrency: load.concurrency,
        setup: prepared.report.clone(),
        join: join_report,
        hold,
        chat: ChatReport {
            delivered: fanout.len(),
            echoes: echo.len(),
            fanout: Percentiles::from_micros(&fanout),
            echo: Percentiles::from_micros(&echo),
            ..chat_report
        },
        close,
        memory: Vec::new(),
    })
}

/// Joins the participants, `--concurrency` at a time, dealing them to rooms and
/// accounts round robin.
async fn join_all(
    api: &Api,
    prepared: &Prepared,
    load: &LoadArgs,
    recorder: &Arc<Recorder>,
) -> (Vec<Participant>, JoinReport) {
    let n = load.participants;
    eprintln!(
        "joining {n} participants to {} rooms, {} at a time…",
        prepared.rooms.len(),
        load.concurrency
    );
    let start = Instant::now();
    let mut joins = stream::iter(0..n)
        .map(|p| {
            let room = p % prepared.rooms.len();
            let room_id = prepared.rooms[room];
            let sid = prepared.sessions[p % prepared.sessions.len()].clone();
            let (api, recorder) = (api.clone(), recorder.clone());
            async move { join(&api, &sid, room, room_id, recorder).await }
        })
        .buffer_unordered(load.concurrency);
    let mut participants = Vec::with_capacity(n);
    let mut timings: Vec<JoinTiming> = Vec::with_capacity(n);
    let mut report = JoinReport {
        attempted: n,
        ..JoinReport::default()
    };
    let step = (n / 10).max(1);
    while let Some(result) = joins.next().await {
        match result {
            Ok((participant, timing)) => {
                participants.push(participant);
                timings.push(timing);
            }
            Err(e) => {
                report.failed += 1;
                let message = format!("{e:#}");
                if report.failures.len() < 5 && !report.failures.contains(&message) {
                    report.failures.push(message);
                }
            }
        }
        let done = participants.len() + report.failed;
        if done % step == 0 {
            eprintln!("  {done}/{n} ({} failed)", report.failed);
        }
    }
    let wall = start.elapsed();
    report.joined = participants.len();
    report.wall_secs = secs(wall);
    report.joins_per_sec = report.joined as f64 / wall.as_secs_f64().max(1e-9);
    let pick = |f: fn(&JoinTiming) -> u64| -> Vec<u64> { timings.iter().map(f).collect() };
    report.total = Percentiles::from_micros(&pick(|t| t.total));
    report.enter = Percentiles::from_micros(&pick(|t| t.enter));
    report.connect = Percentiles::from_micros(&pick(|t| t.connect));
    report.welcome = Percentiles::from_micros(&pick(|t| t.welcome));
    (participants, report)
}

/// Sends `--chat-per-room` rounds: each round, one participant of every room says
/// something (a different one each round).
async fn chat(participants: &[Participant], load: &LoadArgs) -> ChatReport {
    let mut by_room: Vec<Vec<usize>> = vec![Vec::new(); load.rooms];
    for (i, p) in participants.iter().enumerate() {
        by_room[p.room].push(i);
    }
    by_room.retain(|members| !members.is_empty());
    let mut report = ChatReport {
        burst: load.chat_burst,
        ..ChatReport::default()
    };
    if load.chat_per_room == 0 || by_room.is_empty() {
        return report;
    }
    let round = Duration::from_millis(load.chat_interval_ms);
    let gap = if load.chat_burst {
        Duration::ZERO
    } else {
        round / u32::try_from(by_room.len()).unwrap_or(u32::MAX)
    };
    eprintln!(
        "chat: {} rounds of {} ms, one message per room each ({})…",
        load.chat_per_room,
        load.chat_interval_ms,
        if load.chat_burst {
            "all at once"
        } else {
            "spread over the round"
        }
    );
    let mut next = Instant::now();
    for r in 0..load.chat_per_room {
        let round_start = next;
        for members in &by_room {
            tokio::time::sleep_until(next).await;
            participants[members[r % members.len()]].send(Command::Chat);
            report.sent += 1;
            report.expected_deliveries += members.len() - 1;
            next += gap;
        }
        next = round_start + round;
    }
    report
}

/// Closes every connection at once and waits for the server's replies.
async fn close_all(participants: Vec<Participant>) -> CloseReport {
    let start = Instant::now();
    let endings =
        futures_util::future::join_all(participants.into_iter().map(Participant::finish)).await;
    let mut report = CloseReport::default();
    for ending in endings {
        let problem = match ending {
            Ending::Clean => {
                report.clean += 1;
                continue;
            }
            Ending::ClosedByServer(code, reason) => {
                report.closed_by_server += 1;
                format!("closed by the server: {code} {reason}")
            }
            Ending::Broken(why) => {
                report.broken += 1;
                why
            }
        };
        if report.problems.len() < 5 && !report.problems.contains(&problem) {
            report.problems.push(problem);
        }
    }
    report.secs = secs(start.elapsed());
    report
}
