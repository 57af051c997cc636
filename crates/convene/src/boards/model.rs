//! A room's boards as data: elements, boards, the operations that change them, and
//! how an operation applies. Applying is lenient and deterministic (an operation on a
//! board or element that is gone changes nothing), so that replaying the stored log
//! on any node gives exactly the boards everyone saw; the strict checks happen before
//! an operation is stored (`validate.rs`).

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Board units; a plane, with (0,0) at the top left of a slide.
pub type Coord = f64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    Pen,
    Highlighter,
    Line,
    Arrow,
    Rect,
    Ellipse,
    Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Element {
    pub id: String,
    #[serde(default)]
    pub page: u32,
    pub tool: Tool,
    pub color: String,
    pub width: f64,
    pub points: Vec<[Coord; 2]>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub size: Option<f64>,
}

impl Element {
    /// Roughly what the element weighs in memory and on the wire, for the room's budget.
    pub fn weight(&self) -> usize {
        96 + self.id.len() + self.points.len() * 24 + self.text.as_ref().map_or(0, |t| t.len())
    }
}

/// One slide of a document shown on a board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slide {
    pub number: u32,
    pub width: u32,
    pub height: u32,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRef {
    pub file: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Board {
    pub id: u32,
    pub name: String,
    /// The presenter's page, 0-based.
    pub page: u32,
    pub pages: Vec<Slide>,
    pub document: Option<DocumentRef>,
    /// Every page's elements, in drawing order. Changed through `Boards::apply`, which
    /// keeps the index beside them up to date.
    pub elements: Vec<Element>,
    #[serde(skip)]
    derived: Derived,
}

/// Where each element is and what they weigh, kept beside the elements so that an
/// operation costs what it touches, not the board's size. Not part of the board's value
/// (never stored, equal whatever it holds): built on first use after a board is read.
#[derive(Debug, Clone, Default)]
struct Derived(OnceLock<Index>);

#[derive(Debug, Clone)]
struct Index {
    places: HashMap<String, usize>,
    weight: usize,
}

impl Index {
    fn of(elements: &[Element]) -> Index {
        Index {
            places: elements
                .iter()
                .enumerate()
                .map(|(i, e)| (e.id.clone(), i))
                .collect(),
            weight: elements.iter().map(Element::weight).sum(),
        }
    }
}

impl PartialEq for Derived {
    fn eq(&self, _: &Derived) -> bool {
        true
    }
}

impl Derived {
    fn get(&self, elements: &[Element]) -> &Index {
        self.0.get_or_init(|| Index::of(elements))
    }

    fn get_mut(&mut self, elements: &[Element]) -> &mut Index {
        if self.0.get().is_none() {
            self.0 = OnceLock::from(Index::of(elements));
        }
        self.0.get_mut().expect("built just now")
    }

    /// After elements were removed: built again when next needed.
    fn reset(&mut self) {
        self.0 = OnceLock::new();
    }
}

impl Board {
    pub fn new(id: u32, name: String) -> Board {
        Board {
            id,
            name,
            page: 0,
            pages: Vec::new(),
            document: None,
            elements: Vec::new(),
            derived: Derived::default(),
        }
    }

    /// Whether an element with this id is on the board (any page).
    pub fn has(&self, id: &str) -> bool {
        self.derived.get(&self.elements).places.contains_key(id)
    }

    /// A plain board has one page.
    pub fn page_count(&self) -> u32 {
        (self.pages.len() as u32).max(1)
    }

    pub fn weight(&self) -> usize {
        self.derived.get(&self.elements).weight + 128 + self.pages.len() * 64
    }

    /// Adds an element, or replaces the one with its id where it is.
    fn put(&mut self, element: &Element) {
        let Board {
            elements, derived, ..
        } = self;
        let index = derived.get_mut(elements);
        match index.places.get(&element.id) {
            Some(&at) => {
                index.weight = index.weight - elements[at].weight() + element.weight();
                elements[at] = element.clone();
            }
            None => {
                index.places.insert(element.id.clone(), elements.len());
                index.weight += element.weight();
                elements.push(element.clone());
            }
        }
    }

    fn remove_where(&mut self, gone: impl Fn(&Element) -> bool) {
        let before = self.elements.len();
        self.elements.retain(|e| !gone(e));
        if self.elements.len() != before {
            self.derived.reset();
        }
    }
}

/// An operation, as a client sends it and (with what the node filled in) as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    AddBoard {
        name: String,
        /// Chosen by the node.
        #[serde(default)]
        board: Option<u32>,
    },
    RenameBoard {
        board: u32,
        name: String,
    },
    RemoveBoard {
        board: u32,
    },
    Put {
        board: u32,
        elements: Vec<Element>,
    },
    Erase {
        board: u32,
        ids: Vec<String>,
    },
    Clear {
        board: u32,
        page: u32,
    },
    Page {
        board: u32,
        page: u32,
    },
    Document {
        board: u32,
        file: i64,
        /// Filled in by the node from the file's pages.
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        pages: Option<Vec<Slide>>,
    },
}

impl Op {
    pub fn board(&self) -> Option<u32> {
        match self {
            Op::AddBoard { board, .. } => *board,
            Op::RenameBoard { board, .. }
            | Op::RemoveBoard { board }
            | Op::Put { board, .. }
            | Op::Erase { board, .. }
            | Op::Clear { board, .. }
            | Op::Page { board, .. }
            | Op::Document { board, .. } => Some(*board),
        }
    }
}

/// All boards of a room and the sequence number of the last operation applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boards {
    pub seq: i64,
    /// Board ids are never reused, so that a late operation cannot land on a newcomer.
    #[serde(default)]
    pub next_board: u32,
    pub boards: Vec<Board>,
}

impl Default for Boards {
    /// A room that never drew: one empty board.
    fn default() -> Boards {
        Boards {
            seq: 0,
            next_board: 2,
            boards: vec![Board::new(1, "Board 1".into())],
        }
    }
}

impl Boards {
    pub fn get(&self, id: u32) -> Option<&Board> {
        self.boards.iter().find(|b| b.id == id)
    }

    fn get_mut(&mut self, id: u32) -> Option<&mut Board> {
        self.boards.iter_mut().find(|b| b.id == id)
    }

    /// The id the next new board gets.
    pub fn next_board_id(&self) -> u32 {
        let past = self.boards.iter().map(|b| b.id).max().unwrap_or(0) + 1;
        self.next_board.max(past)
    }

    pub fn weight(&self) -> usize {
        self.boards.iter().map(Board::weight).sum()
    }

    /// Applies a stored operation. Lenient: what refers to something gone is skipped.
    pub fn apply(&mut self, seq: i64, op: &Op) {
        self.seq = self.seq.max(seq);
        match op {
            Op::AddBoard { name, board } => {
                let id = board.unwrap_or_else(|| self.next_board_id());
                if self.get(id).is_none() {
                    self.boards.push(Board::new(id, name.clone()));
                }
                self.next_board = self.next_board.max(id + 1);
            }
            Op::RenameBoard { board, name } => {
                if let Some(b) = self.get_mut(*board) {
                    b.name = name.clone();
                }
            }
            Op::RemoveBoard { board } => {
                if self.boards.len() > 1 {
                    self.boards.retain(|b| b.id != *board);
                }
            }
            Op::Put { board, elements } => {
                let Some(b) = self.get_mut(*board) else {
                    return;
                };
                for element in elements {
                    b.put(element);
                }
            }
            Op::Erase { board, ids } => {
                if let Some(b) = self.get_mut(*board) {
                    let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
                    b.remove_where(|e| ids.contains(e.id.as_str()));
                }
            }
            Op::Clear { board, page } => {
                if let Some(b) = self.get_mut(*board) {
                    b.remove_where(|e| e.page == *page);
                }
            }
            Op::Page { board, page } => {
                if let Some(b) = self.get_mut(*board)
                    && *page < b.page_count()
                {
                    b.page = *page;
                }
            }
            Op::Document {
                board,
                file,
                name,
                pages,
            } => {
                if let Some(b) = self.get_mut(*board) {
                    b.document = Some(DocumentRef {
                        file: *file,
                        name: name.clone().unwrap_or_default(),
                    });
                    b.pages = pages.clone().unwrap_or_default();
                    b.page = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stroke(id: &str, page: u32) -> Element {
        Element {
            id: id.into(),
            page,
            tool: Tool::Pen,
            color: "#000000".into(),
            width: 2.0,
            points: vec![[0.0, 0.0], [1.0, 1.0]],
            text: None,
            size: None,
        }
    }

    #[test]
    fn put_adds_then_replaces_in_place() {
        let mut boards = Boards::default();
        let put = |els| Op::Put {
            board: 1,
            elements: els,
        };
        boards.apply(1, &put(vec![stroke("a", 0), stroke("b", 0)]));
        let mut moved = stroke("a", 0);
        moved.points[0] = [5.0, 5.0];
        boards.apply(2, &put(vec![moved.clone()]));
        let b = boards.get(1).unwrap();
        assert_eq!(b.elements.len(), 2);
        assert_eq!(b.elements[0], moved, "a replaced where it was");
        assert_eq!(boards.seq, 2);
    }

    #[test]
    fn operations_on_what_is_gone_change_nothing() {
        let mut boards = Boards::default();
        let before = boards.clone();
        boards.apply(
            1,
            &Op::Put {
                board: 9,
                elements: vec![stroke("a", 0)],
            },
        );
        boards.apply(
            2,
            &Op::Erase {
                board: 1,
                ids: vec!["zz".into()],
            },
        );
        boards.apply(3, &Op::Page { board: 1, page: 4 });
        boards.apply(4, &Op::RemoveBoard { board: 1 });
        assert_eq!(boards.boards, before.boards, "the last board stays");
    }

    #[test]
    fn clear_removes_one_page_only() {
        let mut boards = Boards::default();
        boards.apply(
            1,
            &Op::Put {
                board: 1,
                elements: vec![stroke("a", 0), stroke("b", 1)],
            },
        );
        boards.apply(2, &Op::Clear { board: 1, page: 0 });
        let ids: Vec<_> = boards
            .get(1)
            .unwrap()
            .elements
            .iter()
            .map(|e| &e.id)
            .collect();
        assert_eq!(ids, ["b"]);
    }

    #[test]
    fn boards_are_added_with_the_given_id_and_removed() {
        let mut boards = Boards::default();
        boards.apply(
            1,
            &Op::AddBoard {
                name: "Maths".into(),
                board: Some(boards.next_board_id()),
            },
        );
        assert_eq!(boards.get(2).unwrap().name, "Maths");
        boards.apply(2, &Op::RemoveBoard { board: 1 });
        assert_eq!(boards.boards.len(), 1);
        assert_eq!(boards.next_board_id(), 3);
    }

    #[test]
    fn an_op_survives_its_json() {
        let text = r##"{"kind":"put","board":1,"elements":[{"id":"x-1","page":0,"tool":"text","color":"#ff0000","width":1,"points":[[1,2]],"text":"<b>hi</b>","size":16}]}"##;
        let op: Op = serde_json::from_str(text).unwrap();
        let again: Op = serde_json::from_str(&serde_json::to_string(&op).unwrap()).unwrap();
        assert_eq!(op, again);
    }

    #[test]
    fn the_index_and_weight_follow_every_change_and_a_stored_board() {
        let recount = |b: &Board| {
            b.elements.iter().map(Element::weight).sum::<usize>() + 128 + b.pages.len() * 64
        };
        let mut boards = Boards::default();
        let put = |els| Op::Put {
            board: 1,
            elements: els,
        };
        boards.apply(
            1,
            &put(vec![stroke("a", 0), stroke("b", 0), stroke("c", 1)]),
        );
        let b = boards.get(1).unwrap();
        assert!(b.has("a") && b.has("b") && b.has("c") && !b.has("d"));
        assert_eq!(b.weight(), recount(b));
        let mut long = stroke("b", 0);
        long.points = vec![[1.0, 1.0]; 50];
        boards.apply(2, &put(vec![long]));
        let b = boards.get(1).unwrap();
        assert_eq!(b.elements[1].points.len(), 50, "replaced in place");
        assert_eq!(b.weight(), recount(b));
        boards.apply(
            3,
            &Op::Erase {
                board: 1,
                ids: vec!["a".into()],
            },
        );
        boards.apply(4, &put(vec![stroke("d", 0)]));
        let b = boards.get(1).unwrap();
        assert!(!b.has("a") && b.has("b") && b.has("d"));
        assert_eq!(
            b.elements.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["b", "c", "d"]
        );
        assert_eq!(b.weight(), recount(b));
        boards.apply(5, &Op::Clear { board: 1, page: 1 });
        let b = boards.get(1).unwrap();
        assert!(!b.has("c"));
        assert_eq!(b.weight(), recount(b));
        // What is stored has no index; read back, the board answers the same.
        let back: Boards = serde_json::from_str(&serde_json::to_string(&boards).unwrap()).unwrap();
        assert_eq!(back, boards);
        let b = back.get(1).unwrap();
        assert!(b.has("b") && !b.has("a"));
        assert_eq!(b.weight(), boards.get(1).unwrap().weight());
    }
}
