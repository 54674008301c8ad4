//! Label Studio's brush RLE (`"format": "rle"` in `brushlabels` regions): thi.ng's `rle-pack`
//! bit stream over the RGBA bytes of the whole image, as Label Studio's frontend writes it and
//! `label_studio_converter.brush` reads (`decode_rle`) and writes (`encode_rle`, `mask2rle`).
//!
//! The stream, most significant bit first: the number of values (32 bits), the word size minus
//! one (5 bits), four run-size classes minus one (4 bits each), then until all values are out:
//! a flag bit, a 2-bit class index and a run length minus one in that class's bits; flag 1
//! repeats one word over the run, flag 0 lists the run's words one by one. The values are the
//! image's pixels row by row, 4 bytes (R, G, B, A) each; the mask is the alpha channel.

/// Why a brush RLE cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrushError {
    /// The stream ends before the values it announced.
    Truncated,
    /// It announces another number of values than `4 × width × height`.
    WrongLength {
        /// Values announced.
        announced: u64,
        /// Values the image needs.
        expected: u64,
    },
    /// Words wider than 8 bits do not fit RGBA bytes.
    WordSize(u32),
    /// A run goes past the announced number of values.
    Overrun,
}

impl std::fmt::Display for BrushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BrushError::Truncated => f.write_str("the RLE ends before its last value"),
            BrushError::WrongLength {
                announced,
                expected,
            } => write!(
                f,
                "the RLE holds {announced} values, not 4 x width x height = {expected}"
            ),
            BrushError::WordSize(w) => write!(f, "the RLE's words are {w} bits, not at most 8"),
            BrushError::Overrun => f.write_str("a run of the RLE goes past its last value"),
        }
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl BitReader<'_> {
    /// The next `n` (≤ 32) bits as a number, most significant first.
    fn read(&mut self, n: u32) -> Result<u32, BrushError> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.bytes.get(self.at / 8).ok_or(BrushError::Truncated)?;
            let bit = (byte >> (7 - self.at % 8)) & 1;
            v = (v << 1) | bit as u32;
            self.at += 1;
        }
        Ok(v)
    }
}

/// The alpha channel (one byte per pixel, row-major) of the `width × height` image that the
/// RLE `bytes` encodes. The announced length is checked against the image before anything is
/// allocated.
pub fn decode_alpha(bytes: &[u8], width: u32, height: u32) -> Result<Vec<u8>, BrushError> {
    let mut r = BitReader { bytes, at: 0 };
    let num = r.read(32)? as u64;
    let expected = 4 * width as u64 * height as u64;
    if num != expected {
        return Err(BrushError::WrongLength {
            announced: num,
            expected,
        });
    }
    let word = r.read(5)? + 1;
    if word > 8 {
        return Err(BrushError::WordSize(word));
    }
    let mut sizes = [0u32; 4];
    for s in &mut sizes {
        *s = r.read(4)? + 1;
    }
    let mut alpha = vec![0u8; (num / 4) as usize];
    let mut i = 0u64;
    while i < num {
        let repeat = r.read(1)? == 1;
        let class = sizes[r.read(2)? as usize];
        let end = i + 1 + r.read(class)? as u64;
        if end > num {
            return Err(BrushError::Overrun);
        }
        if repeat {
            let v = r.read(word)? as u8;
            // Only every 4th value (alpha) is kept.
            let mut k = i + (3 - i % 4);
            while k < end {
                alpha[(k / 4) as usize] = v;
                k += 4;
            }
        } else {
            for k in i..end {
                let v = r.read(word)? as u8;
                if k % 4 == 3 {
                    alpha[(k / 4) as usize] = v;
                }
            }
        }
        i = end;
    }
    Ok(alpha)
}

struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn write(&mut self, v: u32, n: u32) {
        for k in (0..n).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if (v >> k) & 1 == 1 {
                let last = self.bytes.len() - 1;
                self.bytes[last] |= 1 << (7 - self.bits % 8);
            }
            self.bits += 1;
        }
    }
}

/// The RLE of a mask given as one byte per pixel (row-major, 0 = outside): each pixel becomes
/// 4 equal RGBA bytes, 255 inside and 0 outside, encoded exactly as
/// `label_studio_converter.brush.mask2rle` does (8-bit words, run classes 3, 4, 8 and 16 bits,
/// and its padding: 1 to 8 zero bits after the last run).
pub fn encode_mask(mask: &[u8]) -> Vec<u8> {
    let mut w = BitWriter {
        bytes: Vec::new(),
        bits: 0,
    };
    w.write((mask.len() * 4) as u32, 32);
    w.write(7, 5);
    for class in [3, 4, 8, 16] {
        w.write(class - 1, 4);
    }
    let mut k = 0;
    while k < mask.len() {
        let inside = mask[k] != 0;
        let run = mask[k..]
            .iter()
            .take_while(|&&v| (v != 0) == inside)
            .count();
        write_run(&mut w, run as u64 * 4, if inside { 255 } else { 0 });
        k += run;
    }
    w.write(0, 8 - (w.bits % 8) as u32);
    w.bytes
}

/// One run of `len` equal bytes, in the classes `encode_rle` picks.
fn write_run(w: &mut BitWriter, mut len: u64, value: u32) {
    const MAX: u64 = 1 << 16;
    while len > MAX {
        w.write(0b111, 3);
        w.write((MAX - 1) as u32, 16);
        w.write(value, 8);
        len -= MAX;
    }
    let (class, bits) = match len {
        1 => {
            w.write(0b000, 3);
            w.write(0, 3);
            w.write(value, 8);
            return;
        }
        2..=8 => (0b100, 3),
        9..=16 => (0b101, 4),
        17..=256 => (0b110, 8),
        _ => (0b111, 16),
    };
    w.write(class, 3);
    w.write((len - 1) as u32, bits);
    w.write(value, 8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Oracle {
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        name: String,
        width: u32,
        height: u32,
        rle: Vec<u8>,
        alpha_runs: Vec<[u32; 2]>,
    }

    fn oracle() -> Oracle {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/annotations/labelstudio_brush_oracle.json"
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// Our decoding equals `label_studio_converter.brush.decode_rle`'s alpha channel, and our
    /// encoding of the 0/255 masks is byte for byte what its `mask2rle` wrote.
    #[test]
    fn decode_and_encode_match_label_studio_converter() {
        for c in oracle().cases {
            let alpha = decode_alpha(&c.rle, c.width, c.height).unwrap();
            let expected: Vec<u8> = c
                .alpha_runs
                .iter()
                .flat_map(|&[v, n]| std::iter::repeat_n(v as u8, n as usize))
                .collect();
            assert_eq!(alpha, expected, "{}", c.name);
            if c.name != "mixed" {
                assert_eq!(encode_mask(&alpha), c.rle, "{}", c.name);
            }
        }
    }

    #[test]
    fn bad_streams_are_refused_without_allocating_their_claim() {
        let c = &oracle().cases[0];
        let e = decode_alpha(&c.rle, c.width + 1, c.height).unwrap_err();
        assert!(matches!(e, BrushError::WrongLength { .. }), "{e}");
        let e = decode_alpha(&c.rle[..c.rle.len() / 2], c.width, c.height).unwrap_err();
        assert_eq!(e, BrushError::Truncated);
        assert_eq!(decode_alpha(&[], 1, 1).unwrap_err(), BrushError::Truncated);
        // 4 values announced, then a repeated run of 8.
        let mut w = BitWriter {
            bytes: Vec::new(),
            bits: 0,
        };
        w.write(4, 32);
        w.write(7, 5);
        for class in [3, 4, 8, 16] {
            w.write(class - 1, 4);
        }
        write_run(&mut w, 8, 255);
        assert_eq!(
            decode_alpha(&w.bytes, 1, 1).unwrap_err(),
            BrushError::Overrun
        );
        let mut wide = w.bytes.clone();
        wide[4] |= 0b1111_1000; // word size 32
        assert_eq!(
            decode_alpha(&wide, 1, 1).unwrap_err(),
            BrushError::WordSize(32)
        );
    }
}
