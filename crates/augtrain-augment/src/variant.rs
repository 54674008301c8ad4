//! Specialised variants of the fused kernel: what of a launch becomes a WGSL constant, the
//! source of each variant, and the checks that let the kernel run without bounds checks.
//!
//! A [`Variant`] is derived from a launch's header and parameter words ([`Variant::of_launch`]):
//! the channel count, interpolation, border rule, batch mixing, whether label planes come
//! with the batch, whether pixels are gathered from a resident set, and which colour and noise
//! op kinds and whether erase boxes appear. [`Variant::source`] writes them as `const`
//! declarations in place of the default block of `augment.wgsl`, so per-channel loops have a
//! constant trip count (a GPU compiler unrolls them and keeps the pixel in registers) and the
//! code of absent ops sits behind a constant `false`. [`Variant::key`] tells variants apart
//! for the launcher's pipeline cache: one compiled pipeline per key.
//!
//! The kernel reads its buffers with no bounds checks (cubecl compiles WGSL with naga's
//! checks off), so [`Variant::of_launch`] checks every index the kernel derives from the
//! header and the parameters; the launcher checks the buffer sizes (see `augment.wgsl`'s top
//! comment for the full list).

use crate::AugmentError;
use crate::layout::{
    BOX_WORDS, GEOMETRY_WORDS, H_BORDER, H_C, H_COLOUR_KINDS, H_GATHER, H_INTERP, H_MASK, H_MIX,
    H_N, H_N_BOXES, H_N_COLOUR, H_N_NOISE, H_NOISE_KINDS, H_OFF_COLOUR, H_OFF_ERASE, H_OFF_MIX,
    H_OFF_NOISE, H_STRIDE, HEADER_WORDS, MIX_WORDS, NOISE_WORDS,
};
use crate::shader::AUGMENT_WGSL;

/// First line of the variant block in `augment.wgsl` (the block ends at [`BLOCK_END`]).
const BLOCK_START: &str = "// ---- variant";
/// Last line of the variant block.
const BLOCK_END: &str = "// ---- end of variant ----";
/// Colour op kinds the kernel knows (`COLOUR_BRIGHTNESS` ..= `COLOUR_GRAYSCALE`).
const COLOUR_KINDS: u32 = 5;
/// Noise op kinds the kernel knows (`NOISE_GAUSSIAN` ..= `NOISE_SPECKLE`).
const NOISE_KINDS: u32 = 4;
/// Most colour or noise ops in one pipeline (slots of the header's kind lists).
const MAX_OPS: u32 = 8;

/// What one compiled kernel is specialised for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variant {
    /// Channels per pixel, 1..=4.
    pub channels: u32,
    /// Interpolation: 0 bilinear, 1 nearest.
    pub interp: u32,
    /// Border rule: 0 constant, 1 replicate, 2 reflect-101.
    pub border: u32,
    /// Batch mixing: 0 none, 1 mixup, 2 cutmix.
    pub mix: u32,
    /// Label planes come with the batch.
    pub masked: bool,
    /// Pixels are gathered from a resident set through the slot list after the header.
    pub gather: bool,
    /// Bit `k` set: colour op kind `k` appears in the pipeline.
    pub colour_ops: u32,
    /// Bit `k` set: noise op kind `k` appears in the pipeline.
    pub noise_ops: u32,
    /// Erase boxes appear in the pipeline.
    pub erase: bool,
}

impl Variant {
    /// The variant of a launch, after checking every index the kernel derives from `header`
    /// and `params`: the header holds its [`HEADER_WORDS`] (and, when gathering, one slot per
    /// sample), at most 8 colour and 8 noise ops of known kinds, every part of a sample's
    /// block lies inside its stride, `params` holds `n × stride` words, and every mixing
    /// partner is a sample of the batch.
    pub fn of_launch(header: &[u32], params: &[u32]) -> Result<Self, AugmentError> {
        let bad = |what: String| Err(AugmentError::Shape(format!("kernel header: {what}")));
        if header.len() < HEADER_WORDS {
            return bad(format!("{} words, {HEADER_WORDS} needed", header.len()));
        }
        let n = header[H_N] as usize;
        let gather = header[H_GATHER] != 0;
        if gather && header.len() < HEADER_WORDS + n {
            return bad(format!(
                "{} slots for {n} samples",
                header.len() - HEADER_WORDS
            ));
        }
        let v = Variant {
            channels: header[H_C],
            interp: header[H_INTERP],
            border: header[H_BORDER],
            mix: header[H_MIX],
            masked: header[H_MASK] != 0,
            gather,
            colour_ops: kinds(header, H_N_COLOUR, H_COLOUR_KINDS, COLOUR_KINDS)?,
            noise_ops: kinds(header, H_N_NOISE, H_NOISE_KINDS, NOISE_KINDS)?,
            erase: header[H_N_BOXES] != 0,
        };
        if !(1..=4).contains(&v.channels) || v.interp > 1 || v.border > 2 || v.mix > 2 {
            return bad(format!(
                "channels {}, interpolation {}, border {}, mixing {} out of range",
                v.channels, v.interp, v.border, v.mix
            ));
        }
        check_params(header, params)?;
        Ok(v)
    }

    /// A number that differs between any two variants (the pipeline cache's key).
    pub fn key(&self) -> u32 {
        (self.channels - 1)
            | self.interp << 2
            | self.border << 3
            | self.mix << 5
            | (self.masked as u32) << 7
            | (self.gather as u32) << 8
            | (self.erase as u32) << 9
            | self.colour_ops << 10
            | self.noise_ops << 15
    }

    /// A short name for files and logs, e.g. `c3-bilinear-reflect-mix0-m0-g0-col1f-noi0f-e1`.
    pub fn name(&self) -> String {
        format!(
            "c{}-{}-{}-mix{}-m{}-g{}-col{:02x}-noi{:02x}-e{}",
            self.channels,
            ["bilinear", "nearest"][self.interp as usize],
            ["constant", "replicate", "reflect"][self.border as usize],
            self.mix,
            self.masked as u8,
            self.gather as u8,
            self.colour_ops,
            self.noise_ops,
            self.erase as u8
        )
    }

    /// The WGSL of this variant: `augment.wgsl` with its variant block replaced.
    pub fn source(&self) -> String {
        let start = AUGMENT_WGSL
            .find(BLOCK_START)
            .expect("augment.wgsl has a variant block");
        let end = AUGMENT_WGSL[start..]
            .find(BLOCK_END)
            .map(|i| start + i + BLOCK_END.len())
            .expect("augment.wgsl's variant block ends");
        format!(
            "{}{}{}",
            &AUGMENT_WGSL[..start],
            self.block(),
            &AUGMENT_WGSL[end..]
        )
    }

    /// The variant block: one `const` per specialised value.
    fn block(&self) -> String {
        format!(
            "{BLOCK_START} {}: constants the host writes per launch (augtrain_augment::variant) ----
const V_C: u32 = {}u;
const V_INTERP: u32 = {}u;
const V_BORDER: u32 = {}u;
const V_MIX: u32 = {}u;
const V_MASKED: bool = {};
const V_GATHER: bool = {};
const V_COLOUR_OPS: u32 = {}u;
const V_NOISE_OPS: u32 = {}u;
const V_ERASE: bool = {};
{BLOCK_END}",
            self.name(),
            self.channels,
            self.interp,
            self.border,
            self.mix,
            self.masked,
            self.gather,
            self.colour_ops,
            self.noise_ops,
            self.erase
        )
    }

    /// A set of variants that gives every specialised constant each of its values, with every
    /// op present and with none: what `tools/check-wgsl.sh` translates.
    pub fn covering_set() -> Vec<Variant> {
        let mut out = Vec::new();
        for channels in 1..=4 {
            for interp in 0..2 {
                for border in 0..3 {
                    let i = (channels * 6 + interp * 3 + border) as usize;
                    out.push(Variant {
                        channels,
                        interp,
                        border,
                        mix: (i % 3) as u32,
                        masked: i.is_multiple_of(2),
                        gather: i % 4 < 2,
                        colour_ops: (1 << COLOUR_KINDS) - 1,
                        noise_ops: (1 << NOISE_KINDS) - 1,
                        erase: true,
                    });
                    out.push(Variant {
                        colour_ops: 1 << (i as u32 % COLOUR_KINDS),
                        noise_ops: 1 << (i as u32 % NOISE_KINDS),
                        ..Variant::bare(channels, interp, border)
                    });
                }
            }
            out.push(Variant::bare(channels, 0, 0));
        }
        out
    }

    /// The variant with no op but the warp.
    pub fn bare(channels: u32, interp: u32, border: u32) -> Variant {
        Variant {
            channels,
            interp,
            border,
            mix: 0,
            masked: false,
            gather: false,
            colour_ops: 0,
            noise_ops: 0,
            erase: false,
        }
    }
}

/// The bit set of op kinds in the header's kind list at `kinds_at`, `header[count_at]` long;
/// an error for more than 8 ops or an unknown kind.
fn kinds(
    header: &[u32],
    count_at: usize,
    kinds_at: usize,
    known: u32,
) -> Result<u32, AugmentError> {
    let count = header[count_at];
    if count > MAX_OPS {
        return Err(AugmentError::Shape(format!(
            "kernel header: {count} ops of one family, at most {MAX_OPS}"
        )));
    }
    let mut set = 0;
    for &kind in &header[kinds_at..kinds_at + count as usize] {
        if kind >= known {
            return Err(AugmentError::Shape(format!(
                "kernel header: unknown op kind {kind}"
            )));
        }
        set |= 1 << kind;
    }
    Ok(set)
}

/// Every parameter word the kernel reads lies in `params`, and every mixing partner is in the
/// batch.
fn check_params(header: &[u32], params: &[u32]) -> Result<(), AugmentError> {
    let stride = header[H_STRIDE] as usize;
    let n = header[H_N] as usize;
    let parts = [
        (0, GEOMETRY_WORDS),
        (header[H_OFF_COLOUR] as usize, header[H_N_COLOUR] as usize),
        (
            header[H_OFF_NOISE] as usize,
            NOISE_WORDS * header[H_N_NOISE] as usize,
        ),
        (
            header[H_OFF_ERASE] as usize,
            BOX_WORDS * header[H_N_BOXES] as usize,
        ),
        (
            header[H_OFF_MIX] as usize,
            if header[H_MIX] != 0 { MIX_WORDS } else { 0 },
        ),
    ];
    if let Some((at, len)) = parts.iter().find(|(at, len)| at + len > stride) {
        return Err(AugmentError::Shape(format!(
            "kernel header: a parameter part at word {at} of {len} words overruns the {stride}-word sample block"
        )));
    }
    if params.len() < n * stride {
        return Err(AugmentError::Shape(format!(
            "{} parameter words for {n} samples of {stride}",
            params.len()
        )));
    }
    if header[H_MIX] != 0 {
        let om = header[H_OFF_MIX] as usize;
        if let Some(s) = (0..n).find(|s| params[s * stride + om] as usize >= n) {
            return Err(AugmentError::Shape(format!(
                "sample {s} mixes with batch position {} of {n}",
                params[s * stride + om]
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header and parameters of a real 3-channel pipeline with every op family.
    fn launch() -> (Vec<u32>, Vec<u32>) {
        use crate::layout::*;
        let mut h = vec![0u32; HEADER_WORDS];
        h[H_N] = 2;
        h[H_C] = 3;
        h[H_INTERP] = 1;
        h[H_BORDER] = 2;
        h[H_N_COLOUR] = 2;
        h[H_COLOUR_KINDS] = COLOUR_GAMMA;
        h[H_COLOUR_KINDS + 1] = COLOUR_BRIGHTNESS;
        h[H_N_NOISE] = 1;
        h[H_NOISE_KINDS] = NOISE_SPECKLE;
        h[H_N_BOXES] = 1;
        h[H_MIX] = 2;
        h[H_OFF_COLOUR] = 7;
        h[H_OFF_NOISE] = 9;
        h[H_OFF_ERASE] = 11;
        h[H_OFF_MIX] = 21;
        h[H_STRIDE] = 27;
        let mut p = vec![0u32; 2 * 27];
        p[21] = 1;
        (h, p)
    }

    #[test]
    fn a_launch_gives_its_variant() {
        let (h, p) = launch();
        let v = Variant::of_launch(&h, &p).unwrap();
        assert_eq!(v.channels, 3);
        assert_eq!((v.interp, v.border, v.mix), (1, 2, 2));
        assert_eq!(v.colour_ops, 0b1001);
        assert_eq!(v.noise_ops, 0b1000);
        assert!(v.erase && !v.masked && !v.gather);
        assert_eq!(v.name(), "c3-nearest-reflect-mix2-m0-g0-col09-noi08-e1");
    }

    #[test]
    fn indices_the_kernel_would_read_out_of_bounds_are_refused() {
        use crate::layout::*;
        let (h, p) = launch();
        type Change = Box<dyn Fn(&mut Vec<u32>, &mut Vec<u32>)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|h, _| h.truncate(40)), "40 words"),
            (Box::new(|_, p| p.truncate(53)), "53 parameter words"),
            (
                Box::new(|_, p| p[27 + 21] = 2),
                "mixes with batch position 2",
            ),
            (Box::new(|h, _| h[H_STRIDE] = 26), "overruns"),
            (Box::new(|h, _| h[H_N_NOISE] = 9), "at most 8"),
            (Box::new(|h, _| h[H_COLOUR_KINDS] = 5), "unknown op kind 5"),
            (Box::new(|h, _| h[H_C] = 5), "channels 5"),
            (Box::new(|h, _| h[H_BORDER] = 3), "border 3"),
            (Box::new(|h, _| h[H_GATHER] = 1), "0 slots for 2 samples"),
        ];
        for (change, expected) in cases {
            let (mut h, mut p) = (h.clone(), p.clone());
            change(&mut h, &mut p);
            let e = Variant::of_launch(&h, &p).unwrap_err().to_string();
            assert!(e.contains(expected), "{e} lacks {expected}");
        }
    }

    #[test]
    fn every_variant_has_its_own_key_and_the_defaults_are_the_file() {
        let all = Variant::covering_set();
        let mut keys: Vec<u32> = all.iter().map(Variant::key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all.len());
        let full = Variant {
            channels: 3,
            interp: 0,
            border: 0,
            mix: 2,
            masked: true,
            gather: true,
            colour_ops: 31,
            noise_ops: 15,
            erase: true,
        };
        // The file's own block is the generic variant, so the file alone is a valid module.
        assert_eq!(full.source(), AUGMENT_WGSL);
    }

    #[test]
    fn constants_of_a_variant_are_in_its_source() {
        let v = Variant::bare(1, 1, 2);
        let s = v.source();
        for line in [
            "const V_C: u32 = 1u;",
            "const V_INTERP: u32 = 1u;",
            "const V_BORDER: u32 = 2u;",
            "const V_COLOUR_OPS: u32 = 0u;",
            "const V_ERASE: bool = false;",
        ] {
            assert_eq!(s.matches(line).count(), 1, "{line}");
        }
        assert_eq!(s.matches("const V_").count(), 9);
    }
}
