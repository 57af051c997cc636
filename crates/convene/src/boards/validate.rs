//! The checks an operation passes before it is stored: bounded sizes and counts,
//! coordinates in range, colours and widths as the protocol says, text as plain text,
//! and references to boards and pages that exist now.

use super::model::{Boards, Element, Op, Tool};

pub const MAX_BOARDS: usize = 20;
pub const MAX_ELEMENTS: usize = 10_000;
/// Board data of a room (what `Boards::weight` counts).
pub const MAX_ROOM_WEIGHT: usize = 8 << 20;
pub const MAX_PER_OP: usize = 500;
pub const MAX_POINTS: usize = 2000;
pub const MAX_TEXT_CHARS: usize = 2000;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_ID_BYTES: usize = 64;
pub const COORD_LIMIT: f64 = 100_000.0;

/// Why an operation is refused, for the error frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    BadRequest(String),
    NotFound(String),
}

fn bad(why: impl Into<String>) -> Refusal {
    Refusal::BadRequest(why.into())
}

pub fn check_name(name: &str) -> Result<String, Refusal> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(bad(format!(
            "a board's name has 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("a board's name has no control characters"));
    }
    Ok(name.to_string())
}

fn check_id(id: &str) -> Result<(), Refusal> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "an element id has 1 to {MAX_ID_BYTES} characters of A-Z a-z 0-9 _ -"
        )))
    }
}

/// Checks one element (lower-casing its colour) for a board with `pages` pages.
pub fn check_element(e: &mut Element, pages: u32) -> Result<(), Refusal> {
    check_id(&e.id)?;
    if e.page >= pages {
        return Err(bad(format!("page {} is past the board's {pages}", e.page)));
    }
    let color = e.color.as_bytes();
    if color.len() != 7 || color[0] != b'#' || !color[1..].iter().all(u8::is_ascii_hexdigit) {
        return Err(bad("a colour is #rrggbb"));
    }
    e.color.make_ascii_lowercase();
    if !(e.width.is_finite() && (1.0..=64.0).contains(&e.width)) {
        return Err(bad("a width is between 1 and 64"));
    }
    let points = e.points.len();
    let fits = match e.tool {
        Tool::Pen | Tool::Highlighter => (1..=MAX_POINTS).contains(&points),
        Tool::Line | Tool::Arrow | Tool::Rect | Tool::Ellipse => points == 2,
        Tool::Text => points == 1,
    };
    if !fits {
        return Err(bad(format!(
            "a {:?} has the wrong number of points ({points}; pen and highlighter 1–{MAX_POINTS}, text 1, shapes 2)",
            e.tool
        )));
    }
    let in_range = |c: f64| c.is_finite() && c.abs() <= COORD_LIMIT;
    if !e.points.iter().flatten().all(|c| in_range(*c)) {
        return Err(bad(format!(
            "coordinates are finite and within ±{COORD_LIMIT}"
        )));
    }
    match e.tool {
        Tool::Text => {
            let text = e.text.as_deref().unwrap_or("");
            let chars = text.chars().count();
            if chars == 0 || chars > MAX_TEXT_CHARS {
                return Err(bad(format!("a text has 1 to {MAX_TEXT_CHARS} characters")));
            }
            if text.chars().any(|c| c.is_control() && c != '\n') {
                return Err(bad("a text has no control characters but line breaks"));
            }
            let size = e.size.unwrap_or(f64::NAN);
            if !(size.is_finite() && (8.0..=200.0).contains(&size)) {
                return Err(bad("a text's size is between 8 and 200"));
            }
        }
        _ => {
            if e.text.is_some() || e.size.is_some() {
                return Err(bad("only a text element has `text` and `size`"));
            }
        }
    }
    Ok(())
}

/// Checks `op` against the boards as they are; fills in what the node decides (a new
/// board's id) and normalises names and colours. `document` ops get their pages later.
pub fn check(boards: &Boards, mut op: Op) -> Result<Op, Refusal> {
    let board_of = |id: u32| {
        boards
            .get(id)
            .ok_or_else(|| Refusal::NotFound(format!("there is no board {id}")))
    };
    match &mut op {
        Op::AddBoard { name, board } => {
            if boards.boards.len() >= MAX_BOARDS {
                return Err(bad(format!("a room has at most {MAX_BOARDS} boards")));
            }
            *name = check_name(name)?;
            *board = Some(boards.next_board_id());
        }
        Op::RenameBoard { board, name } => {
            board_of(*board)?;
            *name = check_name(name)?;
        }
        Op::RemoveBoard { board } => {
            board_of(*board)?;
            if boards.boards.len() == 1 {
                return Err(bad("the last board cannot be removed; clear it instead"));
            }
        }
        Op::Put { board, elements } => {
            let b = board_of(*board)?;
            if elements.is_empty() || elements.len() > MAX_PER_OP {
                return Err(bad(format!("`put` takes 1 to {MAX_PER_OP} elements")));
            }
            let pages = b.page_count();
            let mut added = 0usize;
            let mut weight = 0usize;
            for e in elements.iter_mut() {
                check_element(e, pages)?;
                weight += e.weight();
                if !b.has(&e.id) {
                    added += 1;
                }
            }
            if b.elements.len() + added > MAX_ELEMENTS {
                return Err(bad(format!(
                    "a board has at most {MAX_ELEMENTS} elements; clear a page or use another board"
                )));
            }
            if boards.weight() + weight > MAX_ROOM_WEIGHT {
                return Err(bad(
                    "the room's boards are full (8 MiB); clear or remove a board first",
                ));
            }
        }
        Op::Erase { board, ids } => {
            board_of(*board)?;
            if ids.is_empty() || ids.len() > MAX_PER_OP {
                return Err(bad(format!("`erase` takes 1 to {MAX_PER_OP} ids")));
            }
            for id in ids.iter() {
                check_id(id)?;
            }
        }
        Op::Clear { board, page } | Op::Page { board, page } => {
            let b = board_of(*board)?;
            if *page >= b.page_count() {
                return Err(bad(format!(
                    "page {page} is past the board's {}",
                    b.page_count()
                )));
            }
        }
        Op::Document {
            board, name, pages, ..
        } => {
            board_of(*board)?;
            // What the client says of the document counts for nothing.
            *name = None;
            *pages = None;
        }
    }
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boards::model::Boards;

    fn op(json: &str) -> Op {
        serde_json::from_str(json).unwrap()
    }

    fn refused(json: &str) -> Refusal {
        check(&Boards::default(), op(json)).unwrap_err()
    }

    #[test]
    fn a_good_stroke_passes_with_its_colour_lowercased() {
        let checked = check(
            &Boards::default(),
            op(r##"{"kind":"put","board":1,"elements":[{"id":"p-1","tool":"pen","color":"#AABBCC","width":3,"points":[[0,0],[5,5]]}]}"##),
        )
        .unwrap();
        let Op::Put { elements, .. } = checked else {
            panic!()
        };
        assert_eq!(elements[0].color, "#aabbcc");
    }

    #[test]
    fn bad_elements_are_refused() {
        for bad in [
            // coordinates out of range
            r##"{"kind":"put","board":1,"elements":[{"id":"a","tool":"pen","color":"#000000","width":3,"points":[[1e9,0]]}]}"##,
            // a shape with three points
            r##"{"kind":"put","board":1,"elements":[{"id":"a","tool":"rect","color":"#000000","width":3,"points":[[0,0],[1,1],[2,2]]}]}"##,
            // a colour that is not #rrggbb
            r##"{"kind":"put","board":1,"elements":[{"id":"a","tool":"pen","color":"red;x","width":3,"points":[[0,0]]}]}"##,
            // an id with a slash
            r##"{"kind":"put","board":1,"elements":[{"id":"../a","tool":"pen","color":"#000000","width":3,"points":[[0,0]]}]}"##,
            // text with a control character
            r##"{"kind":"put","board":1,"elements":[{"id":"a","tool":"text","color":"#000000","width":1,"points":[[0,0]],"text":"a\u0000b","size":12}]}"##,
            // a page that does not exist
            r##"{"kind":"put","board":1,"elements":[{"id":"a","page":3,"tool":"pen","color":"#000000","width":3,"points":[[0,0]]}]}"##,
            // a width of 0
            r##"{"kind":"put","board":1,"elements":[{"id":"a","tool":"pen","color":"#000000","width":0,"points":[[0,0]]}]}"##,
            // the last board
            r#"{"kind":"remove_board","board":1}"#,
            // an empty name
            r#"{"kind":"add_board","name":"  "}"#,
        ] {
            assert!(matches!(refused(bad), Refusal::BadRequest(_)), "{bad}");
        }
        assert!(matches!(
            refused(r#"{"kind":"page","board":7,"page":0}"#),
            Refusal::NotFound(_)
        ));
    }

    #[test]
    fn the_node_picks_board_ids_and_document_pages() {
        let boards = Boards::default();
        let Op::AddBoard { board, .. } =
            check(&boards, op(r#"{"kind":"add_board","name":"Two"}"#)).unwrap()
        else {
            panic!()
        };
        assert_eq!(board, Some(2));
        let claimed = op(
            r#"{"kind":"document","board":1,"file":4,"name":"x","pages":[{"number":1,"width":1,"height":1,"url":"javascript:alert(1)"}]}"#,
        );
        let Op::Document { pages, name, .. } = check(&boards, claimed).unwrap() else {
            panic!()
        };
        assert_eq!((pages, name), (None, None));
    }

    #[test]
    fn a_room_full_of_ink_refuses_more() {
        let mut boards = Boards::default();
        let big = Element {
            id: "big".into(),
            page: 0,
            tool: Tool::Pen,
            color: "#000000".into(),
            width: 1.0,
            points: vec![[0.0, 0.0]; MAX_POINTS],
            text: None,
            size: None,
        };
        let mut n = 0;
        while boards.weight() + big.weight() <= MAX_ROOM_WEIGHT {
            let mut e = big.clone();
            e.id = format!("e{n}");
            n += 1;
            boards.apply(
                n,
                &Op::Put {
                    board: 1,
                    elements: vec![e],
                },
            );
        }
        let mut e = big.clone();
        e.id = "one-more".into();
        let refusal = check(
            &boards,
            Op::Put {
                board: 1,
                elements: vec![e],
            },
        )
        .unwrap_err();
        assert!(matches!(refusal, Refusal::BadRequest(m) if m.contains("full")));
    }
}
