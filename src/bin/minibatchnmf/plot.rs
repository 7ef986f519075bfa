//! The rank plot of `minibatchnmf rank --plot`: the held-out score against
//! k, with the spread over the repeats as error bars and the chosen k
//! circled, drawn on an RGB canvas (lines, points, a 5×7 font) and encoded
//! as PNG by the `png` crate.

use crate::font;
use crate::Failure;
use std::io::BufWriter;
use std::path::Path;

type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GREY: Rgb = [225, 225, 225];
const BLUE: Rgb = [31, 119, 180];
const RED: Rgb = [214, 39, 40];

/// An RGB image, row-major, top row first.
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            pixels: WHITE.repeat(width * height),
        }
    }

    fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = 3 * (y as usize * self.width + x as usize);
            self.pixels[i..i + 3].copy_from_slice(&c);
        }
    }

    /// The colour at (x, y).
    #[cfg(test)]
    pub fn get(&self, x: usize, y: usize) -> Rgb {
        let i = 3 * (y * self.width + x);
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// A line `thick` pixels wide (Bresenham, a square brush).
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), thick: i64, c: Rgb) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            for a in 0..thick {
                for b in 0..thick {
                    self.set(x + a - thick / 2, y + b - thick / 2, c);
                }
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// A disc (`inner` = 0) or a ring between radii `inner` and `outer`.
    fn disc(&mut self, (cx, cy): (i64, i64), inner: f64, outer: f64, c: Rgb) {
        let r = outer.ceil() as i64;
        for y in -r..=r {
            for x in -r..=r {
                let d = ((x * x + y * y) as f64).sqrt();
                if d <= outer && d >= inner {
                    self.set(cx + x, cy + y, c);
                }
            }
        }
    }

    /// `text` with its top-left corner at (x, y), glyphs scaled by `scale`.
    fn text(&mut self, text: &str, (x, y): (i64, i64), scale: i64, c: Rgb) {
        for (i, ch) in text.chars().enumerate() {
            let rows = font::glyph(ch);
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits >> (4 - col) & 1 == 1 {
                        for a in 0..scale {
                            for b in 0..scale {
                                self.set(
                                    x + (i as i64 * 6 + col) * scale + a,
                                    y + r as i64 * scale + b,
                                    c,
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// Writes the canvas as an 8-bit RGB PNG.
    pub fn write_png(&self, path: &Path) -> Result<(), Failure> {
        let fail = |e: String| Failure::input(format!("{}: {e}", path.display()));
        let file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
        let mut enc =
            png::Encoder::new(BufWriter::new(file), self.width as u32, self.height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| fail(e.to_string()))?;
        w.write_image_data(&self.pixels)
            .map_err(|e| fail(e.to_string()))?;
        w.finish().map_err(|e| fail(e.to_string()))
    }
}

/// "Nice" tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi].
fn ticks(lo: f64, hi: f64, about: usize) -> Vec<f64> {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / about.max(1) as f64;
    let pow = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| span / s <= about as f64)
        .unwrap_or(10.0 * pow);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A tick label: short, in the 5×7 font's characters.
fn label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The geometry of the plot area, in pixels.
pub struct Frame {
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Frame {
    pub fn px(&self, x: f64) -> i64 {
        (self.left + (x - self.x.0) / (self.x.1 - self.x.0) * (self.right - self.left)).round()
            as i64
    }
    pub fn py(&self, y: f64) -> i64 {
        (self.bottom - (y - self.y.0) / (self.y.1 - self.y.0) * (self.bottom - self.top)).round()
            as i64
    }
}

pub const WIDTH: usize = 640;
pub const HEIGHT: usize = 420;

/// The frame of a rank plot of `ks` with `mean ± spread`.
pub fn rank_frame(ks: &[usize], mean: &[f64], spread: &[f64]) -> Frame {
    let (kmin, kmax) = (
        *ks.iter().min().unwrap_or(&1) as f64,
        *ks.iter().max().unwrap_or(&1) as f64,
    );
    let xpad = ((kmax - kmin) * 0.06).max(0.5);
    let lo = mean
        .iter()
        .zip(spread)
        .map(|(m, s)| m - s)
        .fold(f64::INFINITY, f64::min);
    let hi = mean
        .iter()
        .zip(spread)
        .map(|(m, s)| m + s)
        .fold(f64::NEG_INFINITY, f64::max);
    let ypad = ((hi - lo) * 0.08).max(hi.abs().max(1e-12) * 1e-3);
    Frame {
        left: 90.0,
        right: WIDTH as f64 - 20.0,
        top: 50.0,
        bottom: HEIGHT as f64 - 55.0,
        x: (kmin - xpad, kmax + xpad),
        y: (lo - ypad, hi + ypad),
    }
}

/// Draws the rank plot: the mean held-out score of each k joined by a
/// line, ±`spread` as error bars, the chosen k circled in red.
pub fn rank_plot(ks: &[usize], mean: &[f64], spread: &[f64], best_k: usize) -> Canvas {
    let mut c = Canvas::new(WIDTH, HEIGHT);
    let f = rank_frame(ks, mean, spread);
    let (l, r, t, b) = (f.left as i64, f.right as i64, f.top as i64, f.bottom as i64);
    // grid and ticks
    for v in ticks(f.y.0, f.y.1, 6) {
        let y = f.py(v);
        c.line((l, y), (r, y), 1, GREY);
        c.line((l - 5, y), (l, y), 1, BLACK);
        let s = label(v);
        c.text(&s, (l - 9 - font::width(&s, 2) as i64, y - 7), 2, BLACK);
    }
    let xs: Vec<f64> = if ks.len() <= 16 {
        ks.iter().map(|&k| k as f64).collect()
    } else {
        ticks(f.x.0, f.x.1, 10)
    };
    for v in xs {
        let x = f.px(v);
        c.line((x, b), (x, b + 5), 1, BLACK);
        let s = label(v);
        c.text(&s, (x - font::width(&s, 2) as i64 / 2, b + 10), 2, BLACK);
    }
    // axes
    c.line((l, t), (l, b), 2, BLACK);
    c.line((l, b), (r, b), 2, BLACK);
    // the scores
    let pts: Vec<(i64, i64)> = ks
        .iter()
        .zip(mean)
        .map(|(&k, &m)| (f.px(k as f64), f.py(m)))
        .collect();
    for w in pts.windows(2) {
        c.line(w[0], w[1], 2, BLUE);
    }
    for (i, &(x, y)) in pts.iter().enumerate() {
        let (y0, y1) = (f.py(mean[i] - spread[i]), f.py(mean[i] + spread[i]));
        if y0 != y1 {
            c.line((x, y0), (x, y1), 2, BLUE);
            c.line((x - 5, y0), (x + 5, y0), 2, BLUE);
            c.line((x - 5, y1), (x + 5, y1), 2, BLUE);
        }
        c.disc((x, y), 0.0, 4.5, BLUE);
        if ks[i] == best_k {
            c.disc((x, y), 8.0, 10.5, RED);
        }
    }
    // labels
    let title = format!("held-out score (mean +- std), chosen k = {best_k}");
    c.text(&title, (10, 14), 2, BLACK);
    let xl = "k (number of components)";
    c.text(
        xl,
        (
            (l + r) / 2 - font::width(xl, 2) as i64 / 2,
            HEIGHT as i64 - 24,
        ),
        2,
        BLACK,
    );
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let t = ticks(0.013, 0.087, 6);
        assert!(t.len() >= 3 && t.len() <= 8, "{t:?}");
        assert_eq!(label(0.02), "0.02");
        assert_eq!(label(2.0), "2");
        assert_eq!(label(1.5e-5), "1.5e-5");
    }

    #[test]
    fn the_chosen_k_is_circled_in_red_at_its_position() {
        let ks = [2, 4, 6, 8];
        let mean = [4.0, 2.0, 1.0, 1.1];
        let spread = [0.1, 0.1, 0.05, 0.2];
        let c = rank_plot(&ks, &mean, &spread, 6);
        let f = rank_frame(&ks, &mean, &spread);
        let (x, y) = (f.px(6.0), f.py(1.0));
        assert_eq!(c.get((x + 9) as usize, y as usize), RED);
        assert_eq!(c.get(x as usize, y as usize), BLUE);
        // no red elsewhere than around the chosen point
        for yy in 0..HEIGHT {
            for xx in 0..WIDTH {
                if c.get(xx, yy) == RED {
                    assert!((xx as i64 - x).abs() <= 11 && (yy as i64 - y).abs() <= 11);
                }
            }
        }
    }
}
