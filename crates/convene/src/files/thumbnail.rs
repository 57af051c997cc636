//! Thumbnails of documents and images: the first page made small, once, when the file is
//! converted (so a listing costs no decoding). Decoding is bounded: a picture too large
//! to decode within `MAX_DECODE_BYTES` gets no thumbnail (the UI shows its icon).

use image::{ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// The longest side of a thumbnail, in pixels.
pub const SIDE: u32 = 256;
/// Memory a thumbnail's decoding may take (a 40-megapixel RGBA picture fits).
const MAX_DECODE_BYTES: u64 = 192 << 20;
const MAX_SIDE: u32 = 20_000;

/// A PNG of at most `SIDE` × `SIDE` pixels of the picture in `bytes` (PNG, JPEG, GIF,
/// WebP or BMP), or why not. Call off the async threads: it decodes the whole picture.
pub fn make(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let picture = reader.decode().map_err(|e| e.to_string())?;
    let small = if picture.width() > SIDE || picture.height() > SIDE {
        picture.thumbnail(SIDE, SIDE)
    } else {
        picture
    };
    let mut out = Cursor::new(Vec::new());
    small
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb};

    fn png(w: u32, h: u32) -> Vec<u8> {
        let picture = ImageBuffer::from_fn(w, h, |x, _| Rgb([(x % 256) as u8, 0, 200]));
        let mut out = Cursor::new(Vec::new());
        picture.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_large_picture_becomes_small_keeping_its_shape() {
        let thumb = image::load_from_memory(&make(&png(1200, 600)).unwrap()).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (256, 128));
        let thumb = image::load_from_memory(&make(&png(40, 30)).unwrap()).unwrap();
        assert_eq!(
            (thumb.width(), thumb.height()),
            (40, 30),
            "a small one stays"
        );
    }

    #[test]
    fn what_is_no_picture_or_too_large_gets_none() {
        assert!(make(b"%PDF-1.4 not a picture").is_err());
        // Wider than any page: refused by the limits before its pixels are read.
        let err = make(&png(MAX_SIDE + 1, 1)).unwrap_err();
        assert!(err.contains("limit"), "{err}");
    }
}
