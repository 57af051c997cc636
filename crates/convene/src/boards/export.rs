//! A board as a picture, for export: its elements written as SVG that we make (texts as
//! escaped text, colours and numbers as validated, never markup a user sent), the slide's
//! page image under them, then rasterised by resvg (PNG) or converted by svg2pdf (PDF:
//! vector, its text embedded, one page per slide). Drawn as the web UI's canvas draws
//! (`web/js/views/room-board-render.js`).

use super::model::{Board, Element, Tool};
use resvg::{tiny_skia, usvg};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// A plain board's frame, as the web UI's "fit" shows it.
pub const PLAIN_FRAME: (f64, f64) = (1600.0, 900.0);
/// The longest side of an exported PNG, in pixels.
pub const MAX_PNG_SIDE: f64 = 4096.0;
/// Around a plain board's drawing, in board units.
const MARGIN: f64 = 24.0;
const HIGHLIGHTER_ALPHA: f64 = 0.4;
const LINE_HEIGHT: f64 = 1.25;
/// Fonts the export looks for first (Debian: fonts-dejavu-core, fonts-liberation).
const SANS: [&str; 3] = ["DejaVu Sans", "Liberation Sans", "Noto Sans"];
/// Exports rendered at once per node; the others wait up to `WAIT`.
const AT_ONCE: usize = 2;
const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the board could not be drawn: {0}")]
    Render(String),
    #[error("too many exports at once; try again in a moment")]
    Busy,
}

/// One page to draw: the part of the plane shown and what lies under the elements.
pub struct PageArt<'a> {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The slide's image (PNG, JPEG, GIF or WebP), drawn over the page's frame.
    pub background: Option<&'a [u8]>,
    pub elements: Vec<&'a Element>,
}

impl<'a> PageArt<'a> {
    /// Page `page` (0-based) of `board`: a slide's own size, or for a plain board its
    /// frame grown to hold the drawing.
    pub fn of(board: &'a Board, page: u32, background: Option<&'a [u8]>) -> PageArt<'a> {
        let elements: Vec<&Element> = board.elements.iter().filter(|e| e.page == page).collect();
        let slide = board.pages.get(page as usize);
        let (x, y, width, height) = match slide {
            Some(s) => (
                0.0,
                0.0,
                f64::from(s.width.max(1)),
                f64::from(s.height.max(1)),
            ),
            None => {
                let (mut x0, mut y0, mut x1, mut y1) = (0.0, 0.0, PLAIN_FRAME.0, PLAIN_FRAME.1);
                for e in &elements {
                    let (a, b, c, d) = bounds(e);
                    x0 = f64::min(x0, a - MARGIN);
                    y0 = f64::min(y0, b - MARGIN);
                    x1 = f64::max(x1, c + MARGIN);
                    y1 = f64::max(y1, d + MARGIN);
                }
                (x0, y0, x1 - x0, y1 - y0)
            }
        };
        PageArt {
            x,
            y,
            width,
            height,
            background: if slide.is_some() { background } else { None },
            elements,
        }
    }
}

/// An element's box, stroke included; a text's estimated as the canvas would measure it.
fn bounds(e: &Element) -> (f64, f64, f64, f64) {
    if e.tool == Tool::Text {
        let [x, y] = e.points.first().copied().unwrap_or([0.0, 0.0]);
        let size = e.size.unwrap_or(16.0);
        let text = e.text.as_deref().unwrap_or("");
        let longest = text
            .split('\n')
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        let lines = text.split('\n').count() as f64;
        return (
            x,
            y,
            x + longest as f64 * size * 0.6,
            y + lines * size * LINE_HEIGHT,
        );
    }
    let pad = e.width / 2.0
        + if e.tool == Tool::Arrow {
            arrow_head(e.width) / 2.0
        } else {
            0.0
        };
    let mut b = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for [x, y] in &e.points {
        b = (b.0.min(*x), b.1.min(*y), b.2.max(*x), b.3.max(*y));
    }
    if e.points.is_empty() {
        return (0.0, 0.0, 0.0, 0.0);
    }
    (b.0 - pad, b.1 - pad, b.2 + pad, b.3 + pad)
}

fn arrow_head(width: f64) -> f64 {
    f64::max(10.0, width * 3.0)
}

/// A number for SVG: finite (the operations were validated), two decimals at most.
fn num(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" || s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A colour as validated (`#rrggbb`), or black.
fn color(c: &str) -> &str {
    let b = c.as_bytes();
    if b.len() == 7 && b[0] == b'#' && b[1..].iter().all(u8::is_ascii_hexdigit) {
        c
    } else {
        "#000000"
    }
}

/// Text as XML character data: escaped, and without what XML 1.0 cannot hold.
fn escape_text(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push(' '),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
}

/// The image format of a page, by its magic number; None for anything else (an SVG
/// page image is never handed to the renderer).
fn raster_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The page as an SVG document.
pub fn svg(page: &PageArt) -> String {
    use base64::Engine as _;
    let (x, y, w, h) = (num(page.x), num(page.y), num(page.width), num(page.height));
    let mut s = String::with_capacity(1024 + page.elements.len() * 160);
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{w}" height="{h}" viewBox="{x} {y} {w} {h}"><rect x="{x}" y="{y}" width="{w}" height="{h}" fill="#ffffff"/>"##
    );
    if let Some((bytes, mime)) = page.background.and_then(|b| Some((b, raster_mime(b)?))) {
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        let _ = write!(
            s,
            r#"<image x="0" y="0" width="{w}" height="{h}" preserveAspectRatio="none" xlink:href="data:{mime};base64,{data}"/>"#
        );
    }
    for e in &page.elements {
        element(&mut s, e);
    }
    s.push_str("</svg>");
    s
}

fn element(s: &mut String, e: &Element) {
    let pts = &e.points;
    let Some(first) = pts.first() else {
        return;
    };
    let c = color(&e.color);
    let stroke = format!(
        r#"fill="none" stroke="{c}" stroke-width="{}" stroke-linecap="round" stroke-linejoin="round""#,
        num(e.width)
    );
    let p = |pt: &[f64; 2]| format!("{} {}", num(pt[0]), num(pt[1]));
    match e.tool {
        Tool::Pen | Tool::Highlighter => {
            let opacity = if e.tool == Tool::Highlighter {
                HIGHLIGHTER_ALPHA
            } else {
                1.0
            };
            if pts.len() == 1 {
                let _ = write!(
                    s,
                    r#"<circle cx="{}" cy="{}" r="{}" fill="{c}" opacity="{}"/>"#,
                    num(first[0]),
                    num(first[1]),
                    num(e.width / 2.0),
                    num(opacity)
                );
                return;
            }
            // Quadratic curves between the midpoints, as the canvas draws a stroke.
            let mut d = format!("M{}", p(first));
            if pts.len() > 2 {
                for i in 1..pts.len() - 1 {
                    let mid = [
                        (pts[i][0] + pts[i + 1][0]) / 2.0,
                        (pts[i][1] + pts[i + 1][1]) / 2.0,
                    ];
                    let _ = write!(d, " Q{} {}", p(&pts[i]), p(&mid));
                }
            }
            let _ = write!(d, " L{}", p(&pts[pts.len() - 1]));
            let _ = write!(s, r#"<path d="{d}" {stroke} opacity="{}"/>"#, num(opacity));
        }
        Tool::Line | Tool::Arrow if pts.len() == 2 => {
            let (a, b) = (pts[0], pts[1]);
            let mut d = format!("M{} L{}", p(&a), p(&b));
            if e.tool == Tool::Arrow {
                let angle = (b[1] - a[1]).atan2(b[0] - a[0]);
                let len = arrow_head(e.width);
                for side in [1.0, -1.0] {
                    let t = angle + side * std::f64::consts::PI / 7.0;
                    let wing = [b[0] - len * t.cos(), b[1] - len * t.sin()];
                    let _ = write!(d, " M{} L{}", p(&b), p(&wing));
                }
            }
            let _ = write!(s, r#"<path d="{d}" {stroke}/>"#);
        }
        Tool::Rect if pts.len() == 2 => {
            let (a, b) = (pts[0], pts[1]);
            let _ = write!(
                s,
                r#"<rect x="{}" y="{}" width="{}" height="{}" {stroke}/>"#,
                num(a[0].min(b[0])),
                num(a[1].min(b[1])),
                num((b[0] - a[0]).abs()),
                num((b[1] - a[1]).abs())
            );
        }
        Tool::Ellipse if pts.len() == 2 => {
            let (a, b) = (pts[0], pts[1]);
            let _ = write!(
                s,
                r#"<ellipse cx="{}" cy="{}" rx="{}" ry="{}" {stroke}/>"#,
                num((a[0] + b[0]) / 2.0),
                num((a[1] + b[1]) / 2.0),
                num((b[0] - a[0]).abs() / 2.0),
                num((b[1] - a[1]).abs() / 2.0)
            );
        }
        Tool::Text => {
            let size = e.size.unwrap_or(16.0);
            let family = SANS.map(|f| format!("'{f}'")).join(", ");
            let _ = write!(
                s,
                r#"<text font-family="{family}, sans-serif" font-size="{}" fill="{c}" xml:space="preserve">"#,
                num(size)
            );
            for (i, line) in e.text.as_deref().unwrap_or("").split('\n').enumerate() {
                // The canvas draws from the top of the line; SVG from its baseline.
                let baseline = first[1] + i as f64 * size * LINE_HEIGHT + size * 0.85;
                let _ = write!(s, r#"<tspan x="{}" y="{}">"#, num(first[0]), num(baseline));
                escape_text(line, s);
                s.push_str("</tspan>");
            }
            s.push_str("</text>");
        }
        _ => {}
    }
}

/// What a node keeps for exports: the fonts (read once, when first needed) and a bound
/// on the exports rendered at once (each takes a core and some megabytes).
pub struct Exporter {
    fonts: OnceLock<Arc<usvg::fontdb::Database>>,
    permits: Semaphore,
}

impl Default for Exporter {
    fn default() -> Exporter {
        Exporter {
            fonts: OnceLock::new(),
            permits: Semaphore::new(AT_ONCE),
        }
    }
}

impl Exporter {
    /// A turn to render, waiting at most a few seconds.
    pub async fn permit(&self) -> Result<SemaphorePermit<'_>, ExportError> {
        tokio::time::timeout(WAIT, self.permits.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(ExportError::Busy)
    }

    /// The system's fonts, with a sans-serif family that exists here (call off the
    /// async threads: the first call reads the font files).
    pub fn fonts(&self) -> Arc<usvg::fontdb::Database> {
        self.fonts
            .get_or_init(|| {
                let mut db = usvg::fontdb::Database::new();
                db.load_system_fonts();
                let present = |name: &str| db.faces().any(|f| f.families.iter().any(|(n, _)| n == name));
                match SANS.iter().find(|f| present(f)) {
                    Some(family) => db.set_sans_serif_family(*family),
                    None => tracing::warn!(
                        faces = db.len(),
                        "whiteboard export: none of {SANS:?} is installed (Debian: fonts-dejavu-core); texts may be missing"
                    ),
                }
                Arc::new(db)
            })
            .clone()
    }
}

fn tree(svg: &str, fonts: &Arc<usvg::fontdb::Database>) -> Result<usvg::Tree, ExportError> {
    let options = usvg::Options {
        fontdb: fonts.clone(),
        ..usvg::Options::default()
    };
    usvg::Tree::from_str(svg, &options).map_err(|e| ExportError::Render(e.to_string()))
}

/// The page as a PNG, `scale` pixels a board unit (lowered so that the longest side
/// stays within `MAX_PNG_SIDE`).
pub fn png(
    svg: &str,
    fonts: &Arc<usvg::fontdb::Database>,
    scale: f64,
) -> Result<Vec<u8>, ExportError> {
    let tree = tree(svg, fonts)?;
    let size = tree.size();
    let longest = f64::from(size.width().max(size.height()));
    let scale = scale.min(MAX_PNG_SIDE / longest).max(0.01) as f32;
    let (w, h) = (
        ((size.width() * scale).round() as u32).max(1),
        ((size.height() * scale).round() as u32).max(1),
    );
    let mut pixmap = tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| ExportError::Render(format!("no {w} × {h} picture")))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| ExportError::Render(e.to_string()))
}

/// A PDF made a page at a time (so that only one slide's image is in memory at once),
/// 96 board units an inch.
pub struct PdfBuilder {
    out: pdf_writer::Pdf,
    alloc: pdf_writer::Ref,
    catalog: pdf_writer::Ref,
    page_tree: pdf_writer::Ref,
    kids: Vec<pdf_writer::Ref>,
}

impl Default for PdfBuilder {
    fn default() -> PdfBuilder {
        let mut alloc = pdf_writer::Ref::new(1);
        let catalog = alloc.bump();
        let page_tree = alloc.bump();
        PdfBuilder {
            out: pdf_writer::Pdf::new(),
            alloc,
            catalog,
            page_tree,
            kids: Vec::new(),
        }
    }
}

impl PdfBuilder {
    /// Adds the page drawn by `svg` (vector: svg2pdf writes its paths and texts).
    pub fn add(
        &mut self,
        svg: &str,
        fonts: &Arc<usvg::fontdb::Database>,
    ) -> Result<(), ExportError> {
        use pdf_writer::{Content, Finish, Name, Rect};
        let tree = tree(svg, fonts)?;
        let (chunk, root) = svg2pdf::to_chunk(&tree, svg2pdf::ConversionOptions::default())
            .map_err(|e| ExportError::Render(e.to_string()))?;
        let alloc = &mut self.alloc;
        let mut renumbered = HashMap::new();
        let chunk = chunk.renumber(|old| *renumbered.entry(old).or_insert_with(|| alloc.bump()));
        let root = renumbered[&root];
        let (page, content) = (self.alloc.bump(), self.alloc.bump());
        let (w, h) = (tree.size().width() * 0.75, tree.size().height() * 0.75);
        let mut writer = self.out.page(page);
        writer.media_box(Rect::new(0.0, 0.0, w, h));
        writer.parent(self.page_tree);
        writer.contents(content);
        writer.resources().x_objects().pair(Name(b"Board"), root);
        writer.finish();
        let mut draw = Content::new();
        draw.transform([w, 0.0, 0.0, h, 0.0, 0.0])
            .x_object(Name(b"Board"));
        self.out.stream(content, &draw.finish());
        self.out.extend(&chunk);
        self.kids.push(page);
        Ok(())
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.catalog(self.catalog).pages(self.page_tree);
        self.out
            .pages(self.page_tree)
            .kids(self.kids.iter().copied())
            .count(self.kids.len() as i32);
        self.out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boards::model::Board;

    fn element(tool: Tool, points: Vec<[f64; 2]>, text: Option<&str>) -> Element {
        Element {
            id: "e".into(),
            page: 0,
            tool,
            color: "#e53935".into(),
            width: 6.0,
            points,
            text: text.map(String::from),
            size: text.map(|_| 24.0),
        }
    }

    #[test]
    fn texts_are_text_and_never_markup() {
        let mut board = Board::new(1, "b".into());
        board.elements.push(element(
            Tool::Text,
            vec![[10.0, 10.0]],
            Some("<script>alert(1)</script> & \"x\"\nline two"),
        ));
        let svg = svg(&PageArt::of(&board, 0, None));
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
        assert_eq!(svg.matches("<tspan").count(), 2, "a tspan a line");
        // A colour that is not #rrggbb cannot break out of its attribute.
        board.elements[0].color = "red\" onload=\"x".into();
        assert!(svg_of(&board).contains(r##"fill="#000000""##));
    }

    fn svg_of(board: &Board) -> String {
        svg(&PageArt::of(board, 0, None))
    }

    #[test]
    fn a_plain_board_grows_to_hold_its_drawing_and_a_slide_keeps_its_size() {
        let mut board = Board::new(1, "b".into());
        board.elements.push(element(
            Tool::Line,
            vec![[-100.0, 50.0], [2000.0, 50.0]],
            None,
        ));
        let art = PageArt::of(&board, 0, None);
        assert!(art.x < -100.0 && art.x + art.width > 2000.0);
        assert_eq!((art.y, art.height), (0.0, 900.0));
        board.pages.push(crate::boards::model::Slide {
            number: 1,
            width: 400,
            height: 300,
            url: String::new(),
        });
        let art = PageArt::of(&board, 0, Some(b"not an image"));
        assert_eq!(
            (art.x, art.y, art.width, art.height),
            (0.0, 0.0, 400.0, 300.0)
        );
        assert!(
            !svg(&art).contains("<image"),
            "only PNG, JPEG, GIF or WebP is embedded"
        );
    }

    #[test]
    fn numbers_are_short_and_finite() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-0.004), "0");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(f64::NAN), "0");
    }

    #[test]
    fn a_stroke_is_where_it_was_drawn_in_the_png_and_the_pdf_has_a_page_each() {
        let mut board = Board::new(1, "b".into());
        board.elements.push(element(
            Tool::Line,
            vec![[100.0, 100.0], [300.0, 100.0]],
            None,
        ));
        for tool in [
            Tool::Pen,
            Tool::Highlighter,
            Tool::Arrow,
            Tool::Rect,
            Tool::Ellipse,
        ] {
            let points = vec![[500.0, 500.0], [600.0, 520.0], [700.0, 560.0]];
            let points = if tool == Tool::Pen || tool == Tool::Highlighter {
                points
            } else {
                points[..2].to_vec()
            };
            board.elements.push(element(tool, points, None));
        }
        board
            .elements
            .push(element(Tool::Pen, vec![[50.0, 800.0]], None));
        let svg = svg(&PageArt::of(&board, 0, None));
        let fonts = Arc::new(usvg::fontdb::Database::new());
        let png = png(&svg, &fonts, 0.5).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (800, 450));
        let on = img.get_pixel(100, 50);
        assert!(on[0] > 200 && on[1] < 100, "red on the line: {on:?}");
        assert_eq!(
            img.get_pixel(100, 100).0,
            [255, 255, 255, 255],
            "white off it"
        );
        let mut pdf = PdfBuilder::default();
        pdf.add(&svg, &fonts).unwrap();
        pdf.add(&svg, &fonts).unwrap();
        let bytes = pdf.finish();
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/Count 2"), "two pages");
    }
}
