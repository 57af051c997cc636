//! The whiteboard: a room's boards (`model`), the checks an operation passes before
//! it is stored (`validate`), and their export as PDF or PNG. The live boards belong
//! to the room actor (`rooms::live::board`); their log and snapshots to `store::boards`.

pub mod export;
pub mod model;
pub mod validate;

pub use model::{Board, Boards, Element, Op};

use crate::store::BoardLog;

/// The boards a stored log describes: the snapshot with the operations after it
/// applied in order. What cannot be read is skipped and logged, never fatal: a room
/// always opens.
pub fn replay(log: &BoardLog) -> Boards {
    let mut boards = match &log.snapshot {
        Some((seq, state)) => match serde_json::from_str::<Boards>(state) {
            Ok(mut boards) => {
                boards.seq = *seq;
                boards
            }
            Err(e) => {
                tracing::error!(seq, error = %e, "unreadable board snapshot; starting from an empty board");
                Boards::default()
            }
        },
        None => Boards::default(),
    };
    for (seq, text) in &log.ops {
        match serde_json::from_str::<Op>(text) {
            Ok(op) => boards.apply(*seq, &op),
            Err(e) => tracing::error!(seq, error = %e, "unreadable board operation skipped"),
        }
    }
    boards
}
