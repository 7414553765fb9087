//! The text the mock draws on a generated placeholder: what was asked (prompt, model,
//! size, seed, variant), so an offline image says what it stands for.
//!
//! The glyphs are Noto Sans Mono pre-rasterized at 16 and 32 pixels (the
//! `noto-sans-mono-bitmap` crate: no dependencies, glyph tables only; the font is under
//! the SIL Open Font License), anti-aliased, scaled by whole pixels with the image's
//! shorter side, white on a solid dark panel so the text stays readable over any
//! pattern, to people and to OCR. Characters the font lacks are drawn as U+FFFD.

use image::{Rgb, RgbImage};
use noto_sans_mono_bitmap::{FontWeight, RasterHeight, RasterizedChar, get_raster};

/// What a placeholder image says about its request.
#[derive(Debug, Clone, Copy)]
pub struct Label<'a> {
    /// The prompt as sent.
    pub prompt: &'a str,
    /// The model ID.
    pub model: &'a str,
    /// The seed used (the one sent, or the one the mock picked).
    pub seed: i64,
    /// The variant index.
    pub variant: u32,
}

/// The panel behind the text: solid and near black (a pattern showing through confuses
/// OCR).
const PANEL: [u8; 3] = [16, 16, 16];
/// Pixels of image side (the shorter one) per pixel of line height: 1024 × 1024 gets
/// 32-pixel lines, 2048 × 2048 64-pixel ones.
const SIDE_PER_LINE_PIXEL: u32 = 16;

/// The raster size and the whole-pixel scale for an image whose shorter side is `side`.
fn font_for(side: u32) -> (RasterHeight, u32) {
    let target = side / SIDE_PER_LINE_PIXEL;
    if target < 24 {
        (RasterHeight::Size16, (target / 16).max(1))
    } else {
        (RasterHeight::Size32, (target / 32).max(1))
    }
}

/// The raster of `c`, or of U+FFFD when the font lacks it.
fn glyph(c: char, size: RasterHeight) -> Option<RasterizedChar> {
    get_raster(c, FontWeight::Regular, size)
        .or_else(|| get_raster('\u{FFFD}', FontWeight::Regular, size))
}

/// Word-wraps `text` into lines of at most `cols` characters, at most `max_lines`
/// lines; a cut ends the last line with `...`. Whitespace (newlines included) separates
/// words; a word longer than a line is split.
fn wrap(text: &str, cols: usize, max_lines: usize) -> Vec<String> {
    if cols == 0 || max_lines == 0 {
        return Vec::new();
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut cut = false;
    'words: for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = line.chars().count();
            let room = if used == 0 {
                cols
            } else {
                cols.saturating_sub(used + 1)
            };
            if word.len() <= room {
                if used > 0 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
            } else {
                let rest = word.split_off(cols);
                lines.push(word.iter().collect());
                word = rest;
            }
            if lines.len() == max_lines {
                cut = true;
                break 'words;
            }
        }
    }
    if !line.is_empty() {
        if lines.len() < max_lines {
            lines.push(line);
        } else {
            cut = true;
        }
    }
    if cut && let Some(last) = lines.last_mut() {
        let keep = cols.saturating_sub(3).min(last.chars().count());
        *last = last.chars().take(keep).collect::<String>() + "...";
    }
    lines
}

/// Draws `label` over the top of `img` (clipped to it; an image too small for one line
/// is left as it is).
pub fn draw(img: &mut RgbImage, label: &Label<'_>) {
    let (width, height) = img.dimensions();
    let (size, scale) = font_for(width.min(height));
    let advance = noto_sans_mono_bitmap::get_raster_width(FontWeight::Regular, size) as u32 * scale;
    let line_height = size.val() as u32 * scale;
    // The panel starts `margin` from the image's corner, the text `inset` inside it
    // (room that keeps OCR from reading the panel's edge as part of a letter).
    let margin = line_height / 4;
    let inset = line_height / 2;
    let cols = (width.saturating_sub(2 * (margin + inset)) / advance) as usize;
    let rows = (height.saturating_sub(2 * (margin + inset)) / line_height) as usize;
    if cols < 4 || rows == 0 {
        return;
    }
    let meta = [
        format!("model {}", label.model),
        format!(
            "{width}x{height} seed {} variant {}",
            label.seed, label.variant
        ),
    ];
    let meta: Vec<String> = meta.iter().flat_map(|m| wrap(m, cols, 2)).collect();
    // The prompt gets what the metadata leaves, at least one line.
    let prompt_rows = rows.saturating_sub(meta.len()).max(1);
    let mut lines = wrap(label.prompt, cols, prompt_rows);
    lines.extend(meta);
    lines.truncate(rows);

    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    let panel_w = (longest * advance + 2 * inset).min(width - margin);
    let panel_h = (lines.len() as u32 * line_height + 2 * inset).min(height - margin);
    // Row slices, not pixel by pixel: a 4 MP image's panel is a million pixels.
    let stride = width as usize * 3;
    let (left, right) = (margin as usize * 3, (margin + panel_w) as usize * 3);
    for row in img
        .chunks_exact_mut(stride)
        .skip(margin as usize)
        .take(panel_h as usize)
    {
        for px in row[left..right].chunks_exact_mut(3) {
            px.copy_from_slice(&PANEL);
        }
    }
    for (row, line) in lines.iter().enumerate() {
        let top = margin + inset + row as u32 * line_height;
        for (col, ch) in line.chars().enumerate() {
            if let Some(raster) = glyph(ch, size) {
                let left = margin + inset + col as u32 * advance;
                draw_glyph(img, &raster, left, top, scale);
            }
        }
    }
}

/// Blends white over the panel by the glyph's coverage, each glyph pixel `scale` ×
/// `scale` image pixels.
fn draw_glyph(img: &mut RgbImage, raster: &RasterizedChar, left: u32, top: u32, scale: u32) {
    let (width, height) = img.dimensions();
    for (gy, row) in raster.rows().enumerate() {
        for (gx, &coverage) in row.iter().enumerate() {
            if coverage == 0 {
                continue;
            }
            let cover = u16::from(coverage);
            let value = |base: u8| ((u16::from(base) * (255 - cover) + 255 * cover) / 255) as u8;
            let px = Rgb([value(PANEL[0]), value(PANEL[1]), value(PANEL[2])]);
            let x0 = left + gx as u32 * scale;
            let y0 = top + gy as u32 * scale;
            for y in y0..(y0 + scale).min(height) {
                for x in x0..(x0 + scale).min(width) {
                    img.put_pixel(x, y, px);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_marks_a_cut() {
        assert_eq!(
            wrap("a lighthouse at dusk", 12, 4),
            ["a lighthouse", "at dusk"]
        );
        assert_eq!(wrap("  spaced\n\nout  ", 20, 4), ["spaced out"]);
        assert_eq!(wrap("abcdefghij", 4, 4), ["abcd", "efgh", "ij"]);
        let cut = wrap("one two three four five six", 9, 2);
        assert_eq!(cut, ["one two", "three..."]);
        assert!(wrap("", 10, 3).is_empty());
        assert!(wrap("word", 0, 3).is_empty() && wrap("word", 5, 0).is_empty());
        let long = "word ".repeat(10_000);
        assert_eq!(wrap(&long, 20, 3).len(), 3);
    }

    #[test]
    fn text_is_drawn_inside_the_image_and_depends_on_the_prompt() {
        let blank = RgbImage::from_pixel(512, 256, image::Rgb([200, 100, 50]));
        let label = |prompt| Label {
            prompt,
            model: "venice-sd35",
            seed: 7,
            variant: 0,
        };
        let mut a = blank.clone();
        draw(&mut a, &label("a red fox"));
        let bright = a.pixels().filter(|p| p.0.iter().all(|c| *c >= 200)).count();
        assert!(bright > 200, "{bright} bright pixels");
        let mut b = blank.clone();
        draw(&mut b, &label("a blue whale"));
        assert_ne!(a, b);
        let mut again = blank.clone();
        draw(&mut again, &label("a red fox"));
        assert_eq!(a, again, "deterministic");
        // Tiny and degenerate images are left alone, without panicking.
        for (w, h) in [(1, 1), (16, 300), (300, 8)] {
            let mut tiny = RgbImage::new(w, h);
            draw(&mut tiny, &label("x"));
        }
        let mut odd = RgbImage::new(70, 20);
        draw(&mut odd, &label("ünïcødé ✓ 猫"));
    }
}
