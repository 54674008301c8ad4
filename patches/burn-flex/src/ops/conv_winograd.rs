//! Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions: the forward and the input gradient
//! (augtrain's patch; see `patches/README.md` in augtrain's repository).
//!
//! A 3×3 correlation computes each 2×2 block of outputs from a 4×4 tile of the input with 16
//! multiplications per channel pair instead of 36 (Lavin & Gray, "Fast Algorithms for
//! Convolutional Neural Networks", 2016):
//!
//! `Y = Aᵀ [ Σ_ci (G g Gᵀ) ⊙ (Bᵀ d B) ] A`
//!
//! with `g` the 3×3 kernel of a channel pair, `d` the 4×4 input tile (zero outside the input),
//! and the standard matrices `Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]]`,
//! `G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]`, `Aᵀ = [[1,1,1,0],[0,1,−1,−1]]` (every entry a
//! power of two, so the transforms add and subtract only). The sum over input channels of each
//! of the 16 elements is one GEMM, `M_e [c_out, tiles] = U_e [c_out, c_in] · V_e [c_in, tiles]`:
//! 2.25× fewer multiply-adds than the im2col GEMM of `conv_forward`, for two cheap passes over
//! the input and output.
//!
//! The input gradient of a stride-1 3×3 convolution with leading padding `p ≤ 2` is the same
//! correlation of `dy` with the kernel flipped and its channel axes exchanged, leading padding
//! `2 − p`, output the size of `x`: `dx[ci, ih, iw] = Σ_{co,i,j} dy[co, ih − (2−p) + i,
//! iw − (2−p) + j] · W[co, ci, 2 − i, 2 − j]` (zero outside `dy`), which [`input_grad`] runs
//! through the same kernel.
//!
//! Tiles (`batch · ⌈oh/2⌉ · ⌈ow/2⌉`, sample-major, then tile rows) are split into blocks; each
//! rayon worker transforms a block's input, runs the 16 GEMMs and transforms the result into
//! the NCHW output (the bias added there), with reusable buffers. The result is the same for
//! any number of threads (each output is the same sums in the same order).
//!
//! Rounding differs from the direct sum (the transforms add up to nine terms before the
//! products) but stays of the same order: the tests bound the error by 1e-5 of `Σ |terms|` in
//! f32. Non-finite values are the exception: Winograd's transforms mix a tile's values, so an
//! `inf` can meet its own negation and give `NaN` where the direct sum gives `inf`. Whenever an
//! output is not finite the caller recomputes the whole convolution on its direct path (the
//! functions here return `None`), so non-finite inputs give the definition's values.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use crate::ops::conv_forward::at_least;
use crate::ops::conv_weight_grad::{Elem, Geometry};

/// Input tile side (output tile 2 + kernel 3 − 1) and the number of its elements.
const TILE: usize = 4;
const ELEMS: usize = TILE * TILE;
/// Tiles the transforms handle at once (their vector lanes).
const LANES: usize = 16;
/// Channels (input and output) from which this path is used: below, the GEMMs are too thin to
/// gain on the im2col path (16-channel layers measured 0.78–1.30× it, 32-channel ones
/// 1.02–1.80×).
const MIN_CHANNELS: usize = 32;
/// Tiles of a whole convolution from which this path is used: below, the kernel's transform
/// (one per channel pair and call) costs more than the multiplications it saves.
const MIN_TILES: usize = 64;
/// Target size, in elements, of one element's transformed input block (`c_in × tiles`): the
/// operand one GEMM reads.
const BLOCK_ELEMS: usize = 1 << 14;
/// Fewest tiles per block of the weight gradient: the depth of its GEMMs.
const GRADIENT_MIN_TILES: usize = 256;
/// Most channel pairs for which the weight gradient takes this path: above, each worker's `M`
/// (16 values per pair) and its blocks' transforms outgrow the caches, and ResNet-18's 512×512
/// layer measured no faster than the im2col path (1.01×; its 256×256 layer 1.38×).
const GRADIENT_MAX_PAIRS: usize = 256 * 256;

/// Whether the forward convolution `g` takes this path: groups 1, a 3×3 kernel, stride and
/// dilation 1, enough channels and tiles.
pub(crate) fn applies(g: &Geometry) -> bool {
    g.groups == 1
        && (g.kh, g.kw) == (3, 3)
        && g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.c_in >= MIN_CHANNELS
        && g.c_out >= MIN_CHANNELS
        && g.batch * g.oh.div_ceil(2) * g.ow.div_ceil(2) >= MIN_TILES
}

/// Whether the input gradient of `g` takes this path: as [`applies`] with `x`'s tiles, and a
/// leading padding of at most 2 (the flipped correlation's padding `2 − p`).
pub(crate) fn applies_to_input_grad(g: &Geometry) -> bool {
    g.groups == 1
        && (g.kh, g.kw) == (3, 3)
        && g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.pad[0] <= 2
        && g.pad[1] <= 2
        && g.c_in >= MIN_CHANNELS
        && g.c_out >= MIN_CHANNELS
        && g.batch * g.h.div_ceil(2) * g.w.div_ceil(2) >= MIN_TILES
}

/// The NCHW output `[batch, c_out, oh, ow]` of `x` (NCHW) by `w` (`[c_out, c_in, 3, 3]`) plus
/// `bias`, or `None` if an output is not finite (see the module's note).
pub(crate) fn forward<T: Elem>(
    g: &Geometry,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
) -> Option<Vec<T>> {
    let plan = Plan::new(g.batch, [g.c_in, g.c_out], [g.h, g.w], [g.oh, g.ow], g.pad);
    let u = kernel_transform(w, g.c_out, g.c_in, false);
    run(&plan, x, &u, bias)
}

/// The NCHW input gradient `[batch, c_in, h, w]` from `dy` (`[batch, c_out, oh, ow]`) and `w`,
/// or `None` if a value is not finite (see the module's note).
pub(crate) fn input_grad<T: Elem>(g: &Geometry, w: &[T], dy: &[T]) -> Option<Vec<T>> {
    let pad = [2 - g.pad[0], 2 - g.pad[1]];
    let plan = Plan::new(g.batch, [g.c_out, g.c_in], [g.oh, g.ow], [g.h, g.w], pad);
    let u = kernel_transform(w, g.c_out, g.c_in, true);
    run(&plan, dy, &u, None)
}

/// Whether the weight gradient of `g` takes this path: the forward's conditions, and at most
/// [`GRADIENT_MAX_PAIRS`] channel pairs.
pub(crate) fn applies_to_weight_grad(g: &Geometry) -> bool {
    applies(g) && g.c_in * g.c_out <= GRADIENT_MAX_PAIRS
}

/// The weight gradient `[c_out, c_in, 3, 3]` from `x` (NCHW) and `dy` (`[batch, c_out, oh,
/// ow]`), or `None` if a value is not finite (see the module's note).
///
/// The forward's tile `y_t = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d_t B)] A` is bilinear in the kernel `g` and
/// the input tile `d_t`, so the gradient of `Σ_t Σ dy_t ⊙ y_t` with respect to `g` is
/// `Gᵀ [Σ_t (A dy_t Aᵀ) ⊙ (Bᵀ d_t B)] G` (`dy_t` the tile's 2×2 output gradient, zero past
/// `oh`/`ow`): per element `e` of the 4×4 tile one GEMM `M_e [c_out, c_in] = Σ_t
/// (A dy_t Aᵀ)_e · (Bᵀ d_t B)_eᵀ` over all tiles, then one 3×3 transform per channel pair.
/// Tiles are split into blocks; each rayon worker accumulates a fixed share of the blocks
/// into its own `M`, and the workers' `M` are added at the end.
pub(crate) fn weight_grad<T: Elem>(g: &Geometry, x: &[T], dy: &[T]) -> Option<Vec<T>> {
    let p = Plan::new(g.batch, [g.c_in, g.c_out], [g.h, g.w], [g.oh, g.ow], g.pad);
    let tiles = p.tiles();
    let len = ELEMS * p.c_dst * p.c_src;
    #[cfg(feature = "rayon")]
    let m = {
        use rayon::prelude::*;
        let threads = rayon::current_num_threads();
        let per_block = p.gradient_block_tiles(threads);
        let blocks = tiles.div_ceil(per_block);
        if threads > 1 && blocks >= threads {
            // Each worker a fixed, contiguous share of the blocks (the sums' order does not
            // depend on scheduling), its own `M`; the shares added in order.
            (0..threads)
                .into_par_iter()
                .map(|t| {
                    let mut m = vec![T::zero(); len];
                    let mut scratch = Scratch::default();
                    for b in t * blocks / threads..(t + 1) * blocks / threads {
                        let range = b * per_block..((b + 1) * per_block).min(tiles);
                        let p1 = gemm::Parallelism::None;
                        gradient_block(&p, x, dy, range, &mut scratch, &mut m, p1);
                    }
                    m
                })
                .collect::<Vec<_>>()
                .into_iter()
                .reduce(|mut a, b| {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a = *a + b);
                    a
                })
                .unwrap_or_else(|| vec![T::zero(); len])
        } else {
            gradient_blocks(&p, x, dy, per_block.max(1), len)
        }
    };
    #[cfg(not(feature = "rayon"))]
    let m = gradient_blocks(&p, x, dy, p.gradient_block_tiles(1), len);
    kernel_gradient(&m, p.c_dst, p.c_src)
}

/// [`weight_grad`]'s `M` on one thread (gemm's own threads inside), `per_block` tiles at a time.
fn gradient_blocks<T: Elem>(p: &Plan, x: &[T], dy: &[T], per_block: usize, len: usize) -> Vec<T> {
    let mut m = vec![T::zero(); len];
    let mut scratch = Scratch::default();
    let parallelism = gemm_parallelism();
    for first in (0..p.tiles()).step_by(per_block) {
        let range = first..(first + per_block).min(p.tiles());
        gradient_block(p, x, dy, range, &mut scratch, &mut m, parallelism);
    }
    m
}

/// The tiles `range`: both transforms (the input's `[c_in][16][n]` as the forward's, the
/// output gradient's `[16][n][c_out]`, the layout that makes it the GEMM's column-major left
/// operand) and the 16 GEMMs added into `m` (`[16][c_in][c_out]`, `M_e` column-major).
fn gradient_block<T: Elem>(
    p: &Plan,
    x: &[T],
    dy: &[T],
    range: Range<usize>,
    scratch: &mut Scratch<T>,
    m: &mut [T],
    parallelism: gemm::Parallelism,
) {
    let n = range.len();
    let stride = n + LANES;
    let v = at_least(&mut scratch.v, p.c_src * ELEMS * stride);
    let rows = at_least(&mut scratch.rows, 8 * row_width(p.tiles_w));
    let w = at_least(&mut scratch.m, p.c_dst * ELEMS * stride);
    for seg in segments(p, range) {
        for ci in 0..p.c_src {
            let plane = &x[(seg.sample * p.c_src + ci) * p.h * p.w..][..p.h * p.w];
            let dst = &mut v[ci * ELEMS * stride..][..ELEMS * stride];
            input_tiles(p, plane, &seg, rows, dst, stride);
        }
        let sample = &dy[seg.sample * p.c_dst * p.oh * p.ow..][..p.c_dst * p.oh * p.ow];
        gradient_tiles(p, sample, &seg, w, stride);
    }
    let (c_out, c_in) = (p.c_dst, p.c_src);
    assert!(m.len() >= ELEMS * c_out * c_in);
    let row = (ELEMS * stride) as isize;
    for e in 0..ELEMS {
        // SAFETY: `m` (unique) holds `M_e [c_out, c_in]` column-major at `e·c_out·c_in`; `w`
        // (`[16][stride][c_out]`) holds `W_e [c_out, n]` column-major at `e·stride·c_out`;
        // `v` (`[c_in][16][stride]`) holds `V_eᵀ [n, c_in]` with unit row stride and columns
        // `16·stride` apart (lengths from the buffers' sizes above).
        unsafe {
            gemm::gemm(
                c_out,
                c_in,
                n,
                m.as_mut_ptr().add(e * c_out * c_in),
                c_out as isize,
                1,
                true,
                w.as_ptr().add(e * stride * c_out),
                c_out as isize,
                1,
                v.as_ptr().add(e * stride),
                row,
                1,
                T::one(),
                T::one(),
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

/// `A dy_t Aᵀ` of one sample's output gradient (`[c_out, oh, ow]`) for the tiles of `seg` into
/// `dst` (the block's `[16][n][c_out]`: element `e` of tile `t`, channel `co` at
/// `(e·n + t)·c_out + co`), `A = [[1,0],[1,1],[1,−1],[0,−1]]`, `dy_t` the tile's 2×2 block
/// (zero past `oh`/`ow`). [`LANES`] channels at a time, so that the stores are whole vectors
/// (the last group overlaps the one before when `c_out` is not a multiple).
#[allow(clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
fn gradient_tiles<#[cfg(feature = "simd")] S: macerator::Simd, T: Elem>(
    p: &Plan,
    dy: &[T],
    seg: &Segment,
    dst: &mut [T],
    n: usize,
) {
    let (c_out, plane) = (p.c_dst, p.oh * p.ow);
    let mut first = 0;
    while first < c_out {
        let c0 = first.min(c_out - LANES);
        for j in 0..seg.len {
            let (oh, ow) = (2 * seg.row, 2 * (seg.col + j));
            let mut d = [[T::zero(); LANES]; 4];
            for (k, dk) in d.iter_mut().enumerate() {
                let (r, c) = (k / 2, k % 2);
                if oh + r < p.oh && ow + c < p.ow {
                    let at = (oh + r) * p.ow + ow + c;
                    for (l, v) in dk.iter_mut().enumerate() {
                        *v = dy[(c0 + l) * plane + at];
                    }
                }
            }
            let t = seg.local + j;
            let mut out = [[T::zero(); LANES]; ELEMS];
            for l in 0..LANES {
                // A dy Aᵀ: rows [d0, d0 + d1, d0 − d1, −d1] of the columns, then the same on rows.
                let by_a = |a: T, b: T| [a, a + b, a - b, T::zero() - b];
                let columns = [by_a(d[0][l], d[2][l]), by_a(d[1][l], d[3][l])];
                for r in 0..TILE {
                    let line = by_a(columns[0][r], columns[1][r]);
                    for (c, v) in line.into_iter().enumerate() {
                        out[4 * r + c][l] = v;
                    }
                }
            }
            for (e, v) in out.iter().enumerate() {
                dst[(e * n + t) * c_out + c0..][..LANES].copy_from_slice(v);
            }
        }
        first = c0 + LANES;
    }
}

/// `dW[co, ci] = Gᵀ M G` (3×3) from `m` (`[16][c_in][c_out]`), or `None` if a value is not
/// finite.
fn kernel_gradient<T: Elem>(m: &[T], c_out: usize, c_in: usize) -> Option<Vec<T>> {
    let half = T::narrow(0.5);
    let by_gt = |a: [T; 4]| {
        [
            a[0] + (a[1] + a[2]) * half,
            (a[1] - a[2]) * half,
            (a[1] + a[2]) * half + a[3],
        ]
    };
    let mut dw = vec![T::zero(); c_out * c_in * 9];
    let mut finite = T::zero();
    for (pair, k) in dw.chunks_exact_mut(9).enumerate() {
        let (co, ci) = (pair / c_in, pair % c_in);
        let e = |r: usize, c: usize| m[(4 * r + c) * c_out * c_in + ci * c_out + co];
        let columns: [[T; 3]; 4] =
            core::array::from_fn(|c| by_gt([e(0, c), e(1, c), e(2, c), e(3, c)]));
        for i in 0..3 {
            let row = by_gt([columns[0][i], columns[1][i], columns[2][i], columns[3][i]]);
            for (j, v) in row.into_iter().enumerate() {
                k[3 * i + j] = v;
                finite = finite + v * T::zero();
            }
        }
    }
    (finite == T::zero()).then_some(dw)
}

/// A stride-1 3×3 correlation of `src` (`[batch, c_src, h, w]`) into `dst`
/// (`[batch, c_dst, oh, ow]`), `dst[oh, ow]` reading `src[oh − pad₀ + i, ow − pad₁ + j]`.
#[derive(Clone, Copy, Debug)]
struct Plan {
    batch: usize,
    c_src: usize,
    c_dst: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    pad: [usize; 2],
    tiles_h: usize,
    tiles_w: usize,
}

impl Plan {
    fn new(
        batch: usize,
        [c_src, c_dst]: [usize; 2],
        [h, w]: [usize; 2],
        [oh, ow]: [usize; 2],
        pad: [usize; 2],
    ) -> Self {
        Self {
            batch,
            c_src,
            c_dst,
            h,
            w,
            oh,
            ow,
            pad,
            tiles_h: oh.div_ceil(2),
            tiles_w: ow.div_ceil(2),
        }
    }

    fn tiles(&self) -> usize {
        self.batch * self.tiles_h * self.tiles_w
    }

    /// Tiles per block of the weight gradient: as [`Plan::block_tiles`], but at least
    /// [`GRADIENT_MIN_TILES`] (each block's GEMMs read and write all of `M`).
    fn gradient_block_tiles(&self, workers: usize) -> usize {
        (BLOCK_ELEMS / self.c_src)
            .max(GRADIENT_MIN_TILES)
            .min(self.tiles().div_ceil(workers).next_multiple_of(LANES))
            .max(1)
    }

    /// Tiles per block: about [`BLOCK_ELEMS`] / `c_src`, at least a vector's worth, and small
    /// enough that every worker gets a block.
    fn block_tiles(&self, workers: usize) -> usize {
        (BLOCK_ELEMS / self.c_src)
            .clamp(LANES, 64 * LANES)
            .min(self.tiles().div_ceil(workers).next_multiple_of(LANES))
            .max(1)
    }
}

/// `U_e = (G g Gᵀ)_e` for every channel pair, laid out `[rows][16][cols]`: rows the output
/// channels and columns the input channels of the forward; for the input gradient the kernel
/// flipped (`g[i][j] = W[co, ci, 2 − i, 2 − j]`), rows the forward's input channels and
/// columns its output channels. Rows are shared between rayon's workers.
fn kernel_transform<T: Elem>(w: &[T], c_out: usize, c_in: usize, input_grad: bool) -> Vec<T> {
    let (rows, cols) = if input_grad {
        (c_in, c_out)
    } else {
        (c_out, c_in)
    };
    let mut u = vec![T::zero(); rows * ELEMS * cols];
    let shape = KernelShape {
        c_in,
        cols,
        input_grad,
    };
    #[cfg(feature = "rayon")]
    if rayon::current_num_threads() > 1 && rows * cols >= 4096 {
        use rayon::prelude::*;
        u.par_chunks_mut(ELEMS * cols)
            .enumerate()
            .for_each(|(row, dst)| kernel_row(w, row, &shape, dst));
        return u;
    }
    for (row, dst) in u.chunks_mut(ELEMS * cols).enumerate() {
        kernel_row(w, row, &shape, dst);
    }
    u
}

/// How [`kernel_row`] reads the weight `[c_out, c_in, 3, 3]`.
struct KernelShape {
    c_in: usize,
    cols: usize,
    input_grad: bool,
}

/// Row `row` of [`kernel_transform`] into `dst` (`[16][cols]`), [`LANES`] columns at a time:
/// `G g Gᵀ` with `G = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]`.
#[allow(clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
fn kernel_row<#[cfg(feature = "simd")] S: macerator::Simd, T: Elem>(
    w: &[T],
    row: usize,
    shape: &KernelShape,
    dst: &mut [T],
) {
    let half = T::narrow(0.5);
    let by_g = |a: T, b: T, c: T| [a, (a + b + c) * half, (a - b + c) * half, c];
    let mut col = 0;
    while col < shape.cols {
        let lanes = LANES.min(shape.cols - col);
        let mut g = [[T::zero(); LANES]; 9];
        for l in 0..lanes {
            let (co, ci) = if shape.input_grad {
                (col + l, row)
            } else {
                (row, col + l)
            };
            let k = &w[(co * shape.c_in + ci) * 9..][..9];
            for (t, gt) in g.iter_mut().enumerate() {
                gt[l] = k[if shape.input_grad { 8 - t } else { t }];
            }
        }
        let mut u = [[T::zero(); LANES]; ELEMS];
        for l in 0..LANES {
            // G g (4×3), then (G g) Gᵀ (4×4).
            let cols: [[T; 4]; 3] =
                core::array::from_fn(|j| by_g(g[j][l], g[3 + j][l], g[6 + j][l]));
            for i in 0..4 {
                let out = by_g(cols[0][i], cols[1][i], cols[2][i]);
                for (c, v) in out.into_iter().enumerate() {
                    u[4 * i + c][l] = v;
                }
            }
        }
        for (e, ue) in u.iter().enumerate() {
            dst[e * shape.cols + col..][..lanes].copy_from_slice(&ue[..lanes]);
        }
        col += lanes;
    }
}

/// `dst` pointer shared by the workers, each writing the outputs of its own tiles.
#[derive(Clone, Copy)]
struct Out<T>(*mut T);
// SAFETY: workers write disjoint elements (their tiles' outputs) while the owner waits.
unsafe impl<T: Send> Send for Out<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Out<T> {}

/// A worker's reusable buffers: the transformed input `[c_src][16][tiles]`, the GEMMs' result
/// `[c_dst][16][tiles]` and the deinterleaved input rows of one tile row.
struct Scratch<T> {
    v: Vec<T>,
    m: Vec<T>,
    rows: Vec<T>,
}

impl<T> Default for Scratch<T> {
    fn default() -> Self {
        Self {
            v: Vec::new(),
            m: Vec::new(),
            rows: Vec::new(),
        }
    }
}

/// The whole correlation, or `None` if an output is not finite.
fn run<T: Elem>(p: &Plan, src: &[T], u: &[T], bias: Option<&[T]>) -> Option<Vec<T>> {
    // Every element is written by the output transform (the tiles cover the planes); the
    // length is set only once they all are.
    let len = p.batch * p.c_dst * p.oh * p.ow;
    let mut dst = Vec::<T>::with_capacity(len);
    let out = Out(dst.as_mut_ptr());
    let tiles = p.tiles();
    let done = |mut dst: Vec<T>, finite: bool| {
        finite.then(|| {
            // SAFETY: every block ran and wrote its tiles' outputs, which cover all `len`
            // elements of the `dst` planes.
            unsafe { dst.set_len(len) };
            dst
        })
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        let threads = rayon::current_num_threads();
        let per_block = p.block_tiles(threads);
        let blocks = tiles.div_ceil(per_block);
        if threads > 1 && blocks >= threads {
            let finite = (0..blocks)
                .into_par_iter()
                .map_init(Scratch::default, |scratch, b| {
                    let range = b * per_block..((b + 1) * per_block).min(tiles);
                    let p1 = gemm::Parallelism::None;
                    block(p, src, u, bias, range, scratch, out, p1)
                })
                .all(|finite| finite);
            return done(dst, finite);
        }
    }
    let per_block = p.block_tiles(1);
    let parallelism = gemm_parallelism();
    let mut scratch = Scratch::default();
    let mut finite = true;
    for first in (0..tiles).step_by(per_block) {
        let range = first..(first + per_block).min(tiles);
        finite &= block(p, src, u, bias, range, &mut scratch, out, parallelism);
    }
    done(dst, finite)
}

/// gemm's own threads where the blocks are too few to share out.
fn gemm_parallelism() -> gemm::Parallelism {
    #[cfg(feature = "rayon")]
    if rayon::current_num_threads() > 1 {
        return gemm::Parallelism::Rayon(0);
    }
    gemm::Parallelism::None
}

/// The tiles `range`: input transform, 16 GEMMs, output transform into `out`. `false` if an
/// output is not finite.
#[allow(clippy::too_many_arguments)]
fn block<T: Elem>(
    p: &Plan,
    src: &[T],
    u: &[T],
    bias: Option<&[T]>,
    range: Range<usize>,
    scratch: &mut Scratch<T>,
    out: Out<T>,
    parallelism: gemm::Parallelism,
) -> bool {
    let n = range.len();
    // Each element's row of tiles is `stride` long: the transforms read and write whole
    // vectors of LANES tiles, past a short segment's end into the next one's slots (written
    // after it) or into the padding.
    let stride = n + LANES;
    let v = at_least(&mut scratch.v, p.c_src * ELEMS * stride);
    let rows = at_least(&mut scratch.rows, 8 * row_width(p.tiles_w));
    for seg in segments(p, range.clone()) {
        for ci in 0..p.c_src {
            let plane = &src[(seg.sample * p.c_src + ci) * p.h * p.w..][..p.h * p.w];
            let dst = &mut v[ci * ELEMS * stride..][..ELEMS * stride];
            input_tiles(p, plane, &seg, rows, dst, stride);
        }
    }
    let m = at_least(&mut scratch.m, p.c_dst * ELEMS * stride);
    element_gemms(p, u, v, m, n, stride, parallelism);
    let mut finite = true;
    for seg in segments(p, range) {
        for co in 0..p.c_dst {
            let b = bias.map_or(T::zero(), |b| b[co]);
            let m = &m[co * ELEMS * stride..][..ELEMS * stride];
            let plane = (seg.sample * p.c_dst + co) * p.oh * p.ow;
            // SAFETY: `out` holds `dst` (`batch·c_dst·oh·ow` values, borrowed uniquely by
            // `run` while the blocks run); this writes the outputs of this block's tiles of
            // sample `seg.sample`, channel `co` only, which no other block writes.
            finite &= unsafe { output_tiles(p, m, stride, &seg, b, out.0.add(plane)) };
        }
    }
    finite
}

/// A run of tiles in one tile row: sample, tile row, first tile column, count, and the first
/// tile's index within its block.
struct Segment {
    sample: usize,
    row: usize,
    col: usize,
    len: usize,
    local: usize,
}

/// The tile rows that `range` (global tile indices) covers, in order.
fn segments(p: &Plan, range: Range<usize>) -> impl Iterator<Item = Segment> + '_ {
    let start = range.start;
    let mut t = range.start;
    core::iter::from_fn(move || {
        if t >= range.end {
            return None;
        }
        let (row_index, col) = (t / p.tiles_w, t % p.tiles_w);
        let len = (p.tiles_w - col).min(range.end - t);
        let seg = Segment {
            sample: row_index / p.tiles_h,
            row: row_index % p.tiles_h,
            col,
            len,
            local: t - start,
        };
        t += len;
        Some(seg)
    })
}

/// `M_e = U_e · V_e` for the 16 elements: `[c_dst, n]` by `[c_dst, c_src]` × `[c_src, n]`,
/// each element's row of tiles `stride` long in the block's buffers. Computed as the
/// transposed product `M_eᵀ = V_eᵀ · U_eᵀ`, the layouts gemm runs fastest on: a column-major
/// destination, a column-major left operand (not repacked when `n` is a multiple of the
/// vector width) and a right operand with unit row stride.
fn element_gemms<T: Elem>(
    p: &Plan,
    u: &[T],
    v: &[T],
    m: &mut [T],
    n: usize,
    stride: usize,
    parallelism: gemm::Parallelism,
) {
    assert!(n <= stride && u.len() >= p.c_dst * ELEMS * p.c_src);
    assert!(v.len() >= p.c_src * ELEMS * stride && m.len() >= p.c_dst * ELEMS * stride);
    let row = (ELEMS * stride) as isize;
    for e in 0..ELEMS {
        // SAFETY: `m` (`[c_dst][16][stride]`, unique) holds `M_eᵀ [n, c_dst]` column-major,
        // columns `16·stride` apart from `e·stride`; `v` (`[c_src][16][stride]`) holds
        // `V_eᵀ [n, c_src]` likewise; `u` (`[c_dst][16][c_src]`) holds `U_eᵀ [c_src, c_dst]`
        // with unit row stride and columns `16·c_src` apart from `e·c_src` (lengths asserted).
        unsafe {
            gemm::gemm(
                n,
                p.c_dst,
                p.c_src,
                m.as_mut_ptr().add(e * stride),
                row,
                1,
                false,
                v.as_ptr().add(e * stride),
                row,
                1,
                u.as_ptr().add(e * p.c_src),
                (ELEMS * p.c_src) as isize,
                1,
                T::zero(),
                T::one(),
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

/// One input channel's `Bᵀ d B` for the tiles of `seg` into `dst` (`[16][n]`, the segment's
/// tiles at `seg.local..`): the tile row's four input rows are split into even and odd columns
/// (zero outside the plane), so that element `(r, c)` of consecutive tiles is contiguous.
fn input_tiles<T: Elem>(
    p: &Plan,
    plane: &[T],
    seg: &Segment,
    rows: &mut [T],
    dst: &mut [T],
    n: usize,
) {
    let width = row_width(seg.len);
    let first_col = (2 * seg.col) as isize - p.pad[1] as isize;
    for r in 0..TILE {
        let (even, odd) = rows[2 * r * width..(2 * r + 2) * width].split_at_mut(width);
        let (even, odd) = (&mut even[..=seg.len], &mut odd[..=seg.len]);
        let ih = (2 * seg.row + r) as isize - p.pad[0] as isize;
        if ih < 0 || ih >= p.h as isize {
            even.fill(T::zero());
            odd.fill(T::zero());
        } else {
            let line = &plane[ih as usize * p.w..][..p.w];
            deinterleave(line, first_col, even, odd);
        }
    }
    transform_input(&rows[..8 * width], width, seg.len, &mut dst[seg.local..], n);
}

/// Values per deinterleaved row for `len` tiles: `len + 1` used, rounded up so that every
/// vector of [`LANES`] tiles reads inside the row.
fn row_width(len: usize) -> usize {
    len.next_multiple_of(LANES) + 1
}

/// `even[j] = line[first + 2j]`, `odd[j] = line[first + 2j + 1]`, zero outside `line`.
fn deinterleave<T: Elem>(line: &[T], first: isize, even: &mut [T], odd: &mut [T]) {
    let at = |c: isize| {
        if c >= 0 && (c as usize) < line.len() {
            line[c as usize]
        } else {
            T::zero()
        }
    };
    // Positions whose pair lies inside the line: first + 2j ≥ 0 and first + 2j + 1 < len.
    let lo = ((-first).max(0) as usize).div_ceil(2).min(even.len());
    let hi = ((line.len() as isize - first) / 2).clamp(lo as isize, even.len() as isize) as usize;
    for j in (0..lo).chain(hi..even.len()) {
        let c = first + 2 * j as isize;
        even[j] = at(c);
        odd[j] = at(c + 1);
    }
    if hi > lo {
        let start = (first + 2 * lo as isize) as usize;
        let pairs = line[start..start + 2 * (hi - lo)].chunks_exact(2);
        for ((e, o), pair) in even[lo..hi].iter_mut().zip(&mut odd[lo..hi]).zip(pairs) {
            *e = pair[0];
            *o = pair[1];
        }
    }
}

/// `Bᵀ d B` of `len` tiles of one tile row into `dst` (element `(r, c)` of tile `j` at
/// `(4r + c)·n + j`), from the row's deinterleaved input rows `rows` (`[8][width]`: even and
/// odd columns of input rows 0..4), [`LANES`] tiles at a time.
#[allow(clippy::extra_unused_type_parameters)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
fn transform_input<#[cfg(feature = "simd")] S: macerator::Simd, T: Elem>(
    rows: &[T],
    width: usize,
    len: usize,
    dst: &mut [T],
    n: usize,
) {
    let mut j = 0;
    while j < len {
        let row =
            |i: usize| -> &[T; LANES + 1] { rows[i * width + j..][..=LANES].try_into().unwrap() };
        let [e0, o0, e1, o1, e2, o2, e3, o3] = core::array::from_fn(row);
        let (even, odd) = ([e0, e1, e2, e3], [o0, o1, o2, o3]);
        let mut v = [[T::zero(); LANES]; ELEMS];
        for l in 0..LANES {
            let d = |r: usize, c: usize| {
                if c.is_multiple_of(2) {
                    even[r][l + c / 2]
                } else {
                    odd[r][l + c / 2]
                }
            };
            for c in 0..TILE {
                let t0 = d(0, c) - d(2, c);
                let t1 = d(1, c) + d(2, c);
                let t2 = d(2, c) - d(1, c);
                let t3 = d(1, c) - d(3, c);
                // Column c of Bᵀ d; the row transform below combines the columns.
                v[c][l] = t0;
                v[4 + c][l] = t1;
                v[8 + c][l] = t2;
                v[12 + c][l] = t3;
            }
            for r in 0..TILE {
                let t = [
                    v[4 * r][l],
                    v[4 * r + 1][l],
                    v[4 * r + 2][l],
                    v[4 * r + 3][l],
                ];
                v[4 * r][l] = t[0] - t[2];
                v[4 * r + 1][l] = t[1] + t[2];
                v[4 * r + 2][l] = t[2] - t[1];
                v[4 * r + 3][l] = t[1] - t[3];
            }
        }
        for (e, ve) in v.iter().enumerate() {
            dst[e * n + j..][..LANES].copy_from_slice(ve);
        }
        j += LANES;
    }
}

/// One output channel's `Aᵀ M A + bias` for the tiles of `seg`, from `m` (`[16][n]`, read
/// [`LANES`] values past the segment, so `m` must extend that far) into the channel's output
/// plane at `plane` (rows and columns past `oh`/`ow` dropped). `false` if an output is not
/// finite.
///
/// # Safety
/// `plane` must be valid for writes of the `oh·ow` plane, and nothing else may access the
/// segment's outputs during the call.
#[allow(clippy::extra_unused_type_parameters, clippy::too_many_arguments)]
#[cfg_attr(feature = "simd", macerator::with_simd)]
unsafe fn output_tiles<#[cfg(feature = "simd")] S: macerator::Simd, T: Elem>(
    p: &Plan,
    m: &[T],
    n: usize,
    seg: &Segment,
    bias: T,
    plane: *mut T,
) -> bool {
    let mut finite = [T::zero(); LANES];
    let mut j = 0;
    while j < seg.len {
        if seg.len >= LANES && seg.len - j < LANES {
            // The last vector overlaps the previous one (same values written again).
            j = seg.len - LANES;
        }
        let lanes = LANES.min(seg.len - j);
        let mm: [&[T; LANES]; ELEMS] =
            core::array::from_fn(|e| m[e * n + seg.local + j..][..LANES].try_into().unwrap());
        let mut y = [[T::zero(); 2 * LANES]; 2];
        for l in 0..LANES {
            for (r, yr) in y.iter_mut().enumerate() {
                // Row r of Aᵀ M, then its two columns of (Aᵀ M) A.
                let s = |c: usize| {
                    if r == 0 {
                        mm[c][l] + mm[4 + c][l] + mm[8 + c][l]
                    } else {
                        mm[4 + c][l] - mm[8 + c][l] - mm[12 + c][l]
                    }
                };
                let (s0, s1, s2, s3) = (s(0), s(1), s(2), s(3));
                yr[2 * l] = s0 + s1 + s2 + bias;
                yr[2 * l + 1] = s1 - s2 - s3 + bias;
            }
        }
        let count = (2 * lanes).min(p.ow - 2 * (seg.col + j));
        for (r, y) in y.iter().enumerate() {
            let oh = 2 * seg.row + r;
            if oh >= p.oh {
                break;
            }
            if count == 2 * LANES {
                for (f, v) in finite.iter_mut().zip(y.chunks_exact(2)) {
                    *f = *f + v[0] * T::zero() + v[1] * T::zero();
                }
            } else {
                for &v in &y[..count] {
                    finite[0] = finite[0] + v * T::zero();
                }
            }
            // SAFETY: `oh < p.oh` and `2·(seg.col + j) + count ≤ p.ow`: inside the plane.
            unsafe {
                let to = plane.add(oh * p.ow + 2 * (seg.col + j));
                if count == 2 * LANES {
                    core::ptr::copy_nonoverlapping(y.as_ptr(), to, 2 * LANES);
                } else {
                    core::ptr::copy_nonoverlapping(y.as_ptr(), to, count);
                }
            }
        }
        j += lanes;
    }
    finite.iter().all(|&f| f == T::zero())
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use super::{
        applies, applies_to_input_grad, applies_to_weight_grad, forward, input_grad, weight_grad,
    };
    use crate::ops::conv_weight_grad::Geometry;
    use crate::ops::conv_weight_grad::tests::{Case, values};

    /// A 3×3 stride-1 convolution with padding 1 (output the input's size), `c` channels in
    /// and out, `size × size` planes.
    fn same_padded(n: usize, c: usize, size: usize) -> Case {
        Case {
            n,
            c_in: c,
            c_out: c,
            h: size,
            w: size,
            k: [3, 3],
            stride: [1, 1],
            padding: [(1, 1), (1, 1)],
            dilation: [1, 1],
            groups: 1,
        }
    }

    fn geometry(case: &Case) -> Geometry {
        let x = burn_std::Shape::from(case.x_shape());
        let w = burn_std::Shape::from(case.w_shape());
        let dy = burn_std::Shape::from(case.dy_shape());
        Geometry::new(&x, &w, &dy, &case.options())
    }

    /// Forward, input gradient and weight gradient by the definition, in f64, with `Σ |terms|`
    /// per element.
    fn definition(case: &Case, x: &[f64], w: &[f64], dy: &[f64]) -> [(Vec<f64>, Vec<f64>); 3] {
        let [oh, ow] = case.out();
        let (c_in, c_out, h, wd) = (case.c_in, case.c_out, case.h, case.w);
        let mut y = (
            vec![0.0; case.n * c_out * oh * ow],
            vec![0.0; case.n * c_out * oh * ow],
        );
        let mut dx = (
            vec![0.0; case.n * c_in * h * wd],
            vec![0.0; case.n * c_in * h * wd],
        );
        let mut dw = (vec![0.0; c_out * c_in * 9], vec![0.0; c_out * c_in * 9]);
        for n in 0..case.n {
            for co in 0..c_out {
                for a in 0..oh {
                    for b in 0..ow {
                        let o = ((n * c_out + co) * oh + a) * ow + b;
                        for ci in 0..c_in {
                            for i in 0..3 {
                                for j in 0..3 {
                                    let ih = (a + i) as isize - case.padding[0].0 as isize;
                                    let iw = (b + j) as isize - case.padding[1].0 as isize;
                                    if ih < 0 || iw < 0 || ih >= h as isize || iw >= wd as isize {
                                        continue;
                                    }
                                    let xi = ((n * c_in + ci) * h + ih as usize) * wd + iw as usize;
                                    let wi = ((co * c_in + ci) * 3 + i) * 3 + j;
                                    let wv = w[wi];
                                    dw.0[wi] += dy[o] * x[xi];
                                    dw.1[wi] += (dy[o] * x[xi]).abs();
                                    y.0[o] += wv * x[xi];
                                    y.1[o] += (wv * x[xi]).abs();
                                    dx.0[xi] += wv * dy[o];
                                    dx.1[xi] += (wv * dy[o]).abs();
                                }
                            }
                        }
                    }
                }
            }
        }
        [y, dx, dw]
    }

    fn worst(got: &[f32], want: &(Vec<f64>, Vec<f64>)) -> f64 {
        assert_eq!(got.len(), want.0.len());
        got.iter()
            .zip(want.0.iter().zip(&want.1))
            .map(|(&g, (&v, &s))| (g as f64 - v).abs() / s.max(1e-30))
            .fold(0.0, f64::max)
    }

    /// Both directions against the definition on shapes with odd and even planes, every
    /// leading padding the path takes, asymmetric padding, and blocks that split tile rows.
    #[test]
    fn matches_the_definition() {
        let mut checked = 0;
        for &(n, c_in, c_out, h, w) in &[
            (4, 32, 32, 8, 8),
            (4, 33, 35, 7, 9),
            (2, 32, 48, 13, 11),
            (8, 40, 32, 5, 6),
            (2, 40, 36, 23, 17),
        ] {
            for &pad in &[(0, 0), (1, 1), (2, 2), (1, 0), (0, 2), (2, 1)] {
                let case = Case {
                    n,
                    c_in,
                    c_out,
                    h,
                    w,
                    k: [3, 3],
                    stride: [1, 1],
                    padding: [pad, (pad.1, pad.0)],
                    dilation: [1, 1],
                    groups: 1,
                };
                let g = geometry(&case);
                let x64 = values(case.x_shape().iter().product(), 5);
                let w64 = values(case.w_shape().iter().product(), 6);
                let dy64 = values(case.dy_shape().iter().product(), 7);
                let b64 = values(c_out, 8);
                let f = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<_>>();
                let [mut y, dx, dw] = definition(&case, &x64, &w64, &dy64);
                for (o, v) in y.0.iter_mut().enumerate() {
                    let co = (o / (g.oh * g.ow)) % c_out;
                    *v += b64[co];
                    y.1[o] += b64[co].abs();
                }
                if applies(&g) {
                    let got = forward(&g, &f(&x64), &f(&w64), Some(&f(&b64))).unwrap();
                    let err = worst(&got, &y);
                    assert!(err < 1e-5, "{case:?}: forward {err:e}");
                    checked += 1;
                }
                if applies_to_input_grad(&g) {
                    let got = input_grad(&g, &f(&w64), &f(&dy64)).unwrap();
                    let err = worst(&got, &dx);
                    assert!(err < 1e-5, "{case:?}: input gradient {err:e}");
                    checked += 1;
                }
                if applies_to_weight_grad(&g) {
                    let got = weight_grad(&g, &f(&x64), &f(&dy64)).unwrap();
                    let err = worst(&got, &dw);
                    assert!(err < 1e-5, "{case:?}: weight gradient {err:e}");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 75, "{checked}");
    }

    /// A non-finite value anywhere gives `None` (the caller's direct path decides the values);
    /// f64 matches the definition to its own precision.
    #[test]
    fn non_finite_values_fall_back_and_f64_is_exact_to_its_precision() {
        let case = same_padded(4, 32, 9);
        let g = geometry(&case);
        let mut x = values(case.x_shape().iter().product(), 1);
        let w = values(case.w_shape().iter().product(), 2);
        let dy = values(case.dy_shape().iter().product(), 3);
        let [y, dx, dw] = definition(&case, &x, &w, &dy);
        let rel = |got: &[f64], want: &(Vec<f64>, Vec<f64>)| {
            got.iter()
                .zip(want.0.iter().zip(&want.1))
                .map(|(&g, (&v, &s))| (g - v).abs() / s.max(1e-300))
                .fold(0.0, f64::max)
        };
        assert!(rel(&forward(&g, &x, &w, None).unwrap(), &y) < 1e-13);
        assert!(rel(&input_grad(&g, &w, &dy).unwrap(), &dx) < 1e-13);
        assert!(rel(&weight_grad(&g, &x, &dy).unwrap(), &dw) < 1e-13);
        x[200] = f64::INFINITY;
        assert!(forward(&g, &x, &w, None).is_none());
        let mut dy_nan = dy.clone();
        dy_nan[17] = f64::NAN;
        assert!(input_grad(&g, &w, &dy_nan).is_none());
        assert!(weight_grad(&g, &x, &dy).is_none());
    }

    /// Winograd against the im2col GEMM paths on the 3×3 stride-1 layers of ResNet-18 and
    /// resnet-small, forward and input gradient, f32, minimum of `WINO_REPS` (default 5) calls:
    /// `cargo test --release --lib conv_winograd::tests::timing -- --ignored --nocapture`
    /// (`WINO_BATCH` overrides the batch, `WINO_FILTER` selects cases by name).
    #[test]
    #[ignore]
    fn timing() {
        use crate::ops::{conv_forward, conv_input_grad, conv_weight_grad};
        use std::time::Instant;
        let env = |k: &str| std::env::var(k).ok();
        let reps: usize = env("WINO_REPS").and_then(|v| v.parse().ok()).unwrap_or(5);
        let batch: Option<usize> = env("WINO_BATCH").and_then(|v| v.parse().ok());
        let filter = env("WINO_FILTER").unwrap_or_default();
        // (name, batch, channels, size, uses in ResNet-18 / resnet-small)
        let cases = [
            ("resnet18.conv_k3s1_64x64_56", 32, 64, 56, 4),
            ("resnet18.conv_k3s1_128x128_28", 32, 128, 28, 3),
            ("resnet18.conv_k3s1_256x256_14", 32, 256, 14, 3),
            ("resnet18.conv_k3s1_512x512_7", 32, 512, 7, 3),
            ("resnet_small.conv_k3s1_16x16_32", 32, 16, 32, 4),
            ("resnet_small.conv_k3s1_32x32_16", 32, 32, 16, 3),
            ("resnet_small.conv_k3s1_64x64_8", 32, 64, 8, 3),
        ];
        let min_ms = |f: &mut dyn FnMut()| {
            (0..reps)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed().as_secs_f64() * 1e3
                })
                .fold(f64::INFINITY, f64::min)
        };
        std::println!(
            "| case | uses | forward gemm ms | winograd ms | ratio | input grad gemm ms | winograd ms | ratio | weight grad gemm ms | winograd ms | ratio |"
        );
        std::println!(
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        let mut sums = [0.0f64; 6];
        for (name, n, c, size, uses) in cases {
            if !name.contains(filter.as_str()) {
                continue;
            }
            let case = same_padded(batch.unwrap_or(n), c, size);
            let g = geometry(&case);
            let f = |v: Vec<f64>| v.into_iter().map(|v| v as f32).collect::<Vec<_>>();
            let x = f(values(case.x_shape().iter().product(), 1));
            let w = f(values(case.w_shape().iter().product(), 2));
            let dy = f(values(case.dy_shape().iter().product(), 3));
            let b = f(values(c, 4));
            let only = env("WINO_ONLY").unwrap_or_default();
            let skip = |which: &str| !only.is_empty() && only != which;
            let time = |which: &str, f: &mut dyn FnMut()| {
                if skip(which) { f64::NAN } else { min_ms(f) }
            };
            let t = [
                time("gemm", &mut || {
                    drop(conv_forward::forward(&g, &x, &w, Some(&b)))
                }),
                time("winograd", &mut || drop(forward(&g, &x, &w, Some(&b)))),
                time("gemm", &mut || {
                    drop(conv_input_grad::gemm_input_grad(&g, &w, &dy))
                }),
                time("winograd", &mut || drop(input_grad(&g, &w, &dy))),
                time("gemm", &mut || {
                    drop(conv_weight_grad::im2col_gemm(&g, &x, &dy))
                }),
                time("winograd", &mut || drop(weight_grad(&g, &x, &dy))),
            ];
            for (s, t) in sums.iter_mut().zip(t) {
                *s += uses as f64 * t;
            }
            let ratios = [t[0] / t[1], t[2] / t[3], t[4] / t[5]];
            std::println!(
                "| {name} (batch {}) | {uses} | {:.2} | {:.2} | {:.2}x | {:.2} | {:.2} | {:.2}x | {:.2} | {:.2} | {:.2}x |",
                case.n,
                t[0],
                t[1],
                ratios[0],
                t[2],
                t[3],
                ratios[1],
                t[4],
                t[5],
                ratios[2]
            );
        }
        std::println!(
            "| sum (x uses) | | {:.2} | {:.2} | {:.2}x | {:.2} | {:.2} | {:.2}x | {:.2} | {:.2} | {:.2}x |",
            sums[0],
            sums[1],
            sums[0] / sums[1],
            sums[2],
            sums[3],
            sums[2] / sums[3],
            sums[4],
            sums[5],
            sums[4] / sums[5]
        );
    }
}
