//! The whiteboard's I/O off the room's loop: the writer that stores operations (in
//! batches, in order) and snapshots, the loader that reads the boards when the room
//! starts, and the lookup of a document's pages. Each hands its result back to the
//! room as a command; the room never waits for the database.

use super::board::{BoardWrite, DocumentRequest};
use crate::boards;
use crate::boards::model::Slide;
use crate::ids::RoomId;
use crate::rooms::RoomCmd;
use crate::store::{Scope, Store, StoredOp};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

/// Operations waiting to be stored before senders are told to slow down.
const QUEUE: usize = 256;
/// Operations stored in one transaction at most.
const BATCH: usize = 64;
/// How long one write or read may take.
const DEADLINE: Duration = Duration::from_secs(3);
/// How soon the loader tries again after the database did not answer.
const RETRY: Duration = Duration::from_secs(1);

pub(super) enum Job {
    Op(BoardWrite),
    Snapshot { seq: i64, state: String },
}

pub(super) struct BoardWriter {
    tx: mpsc::Sender<Job>,
}

impl BoardWriter {
    /// Starts the writer; it stops when the room drops this value.
    pub(super) fn spawn(
        store: Store,
        room: RoomId,
        back: mpsc::WeakSender<RoomCmd>,
        tasks: &TaskTracker,
    ) -> BoardWriter {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        tasks.spawn(async move {
            let mut held: Option<Job> = None;
            loop {
                let Some(job) = held.take().or(rx.recv().await) else {
                    break;
                };
                let writes = match job {
                    Job::Snapshot { seq, state } => {
                        let save = store.save_board_snapshot(room, seq, &state);
                        match tokio::time::timeout(DEADLINE, save).await {
                            Ok(Ok(())) => tracing::debug!(%room, seq, "board snapshot saved"),
                            // The log still holds everything; the next snapshot catches up.
                            Ok(Err(e)) => {
                                tracing::warn!(%room, error = %e, "cannot save a board snapshot")
                            }
                            Err(_) => tracing::warn!(%room, "saving a board snapshot timed out"),
                        }
                        continue;
                    }
                    Job::Op(first) => {
                        let mut writes = vec![first];
                        while writes.len() < BATCH {
                            match rx.try_recv() {
                                Ok(Job::Op(w)) => writes.push(w),
                                Ok(snapshot) => {
                                    held = Some(snapshot);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        writes
                    }
                };
                let rows: Vec<StoredOp> = writes
                    .iter()
                    .map(|w| StoredOp {
                        seq: w.seq,
                        op: serde_json::to_string(&w.op).expect("operations always serialise"),
                        by_user: w.by_user.map(|u| u.0),
                    })
                    .collect();
                let insert = store.insert_board_ops(room, &rows);
                let stored = match tokio::time::timeout(DEADLINE, insert).await {
                    Ok(Ok(())) => true,
                    Ok(Err(e)) => {
                        tracing::warn!(%room, error = %e, "cannot store whiteboard operations");
                        false
                    }
                    Err(_) => {
                        tracing::warn!(%room, "storing whiteboard operations timed out");
                        false
                    }
                };
                let Some(back) = back.upgrade() else { break };
                if back
                    .send(RoomCmd::BoardsStored { writes, stored })
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        BoardWriter { tx }
    }

    /// Queues a job; a write the full queue refused (the database is slow or away)
    /// comes back.
    pub(super) fn submit(&self, job: Job) -> Result<(), BoardWrite> {
        match self.tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(e) => match e.into_inner() {
                Job::Op(write) => Err(write),
                Job::Snapshot { .. } => Ok(()),
            },
        }
    }
}

/// Reads the room's boards until the database answers, then hands them to the room.
pub(super) fn load(
    store: Store,
    room: RoomId,
    back: mpsc::WeakSender<RoomCmd>,
    tasks: &TaskTracker,
) {
    tasks.spawn(async move {
        loop {
            match tokio::time::timeout(DEADLINE, store.board_log(room)).await {
                Ok(Ok(log)) => {
                    let boards = boards::replay(&log);
                    if let Some(back) = back.upgrade() {
                        let _ = back.send(RoomCmd::BoardsLoaded(Box::new(boards))).await;
                    }
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(%room, error = %e, "cannot read the boards; trying again")
                }
                Err(_) => tracing::warn!(%room, "reading the boards timed out; trying again"),
            }
            if back.upgrade().is_none() {
                return;
            }
            tokio::time::sleep(RETRY).await;
        }
    });
}

/// Looks up a file of the room's area and its pages, for a `document` operation.
pub(super) fn load_document(
    store: Store,
    room: RoomId,
    request: DocumentRequest,
    back: mpsc::WeakSender<RoomCmd>,
    tasks: &TaskTracker,
) {
    tasks.spawn(async move {
        let lookup = document_pages(&store, room, request.file);
        let result = match tokio::time::timeout(DEADLINE, lookup).await {
            Ok(result) => result,
            Err(_) => Err("the database did not answer in time; try again".into()),
        };
        if let Some(back) = back.upgrade() {
            let _ = back.send(RoomCmd::DocumentLoaded { request, result }).await;
        }
    });
}

async fn document_pages(
    store: &Store,
    room: RoomId,
    file: i64,
) -> Result<(String, Vec<Slide>), String> {
    let missing = || format!("there is no file {file} in this room's files");
    let row = store
        .file(file)
        .await
        .map_err(|_| "the database did not answer; try again".to_string())?
        .ok_or_else(missing)?;
    if row.scope != Scope::Room(room) {
        return Err(missing());
    }
    match row.status.as_str() {
        "ready" => {}
        "converting" => return Err(format!("{} is still being converted", row.name)),
        _ => {
            return Err(format!(
                "{} could not be converted, so it has no pages",
                row.name
            ));
        }
    }
    let pages = store
        .pages(file)
        .await
        .map_err(|_| "the database did not answer; try again".to_string())?;
    if pages.is_empty() {
        return Err(format!("{} has no pages to show", row.name));
    }
    let slides = pages
        .iter()
        .map(|p| Slide {
            number: p.number as u32,
            width: p.width as u32,
            height: p.height as u32,
            url: format!("/api/v1/rooms/{room}/files/{file}/pages/{}", p.number),
        })
        .collect();
    Ok((row.name, slides))
}
