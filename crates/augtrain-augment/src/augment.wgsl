// augtrain fused augmentation kernel.
//
// One invocation per output pixel of one sample: a single gather through the sample's inverse
// affine map (fixed point, bilinear or nearest, constant / replicate / reflect-101 border),
// then colour ops, noise, erasing, batch mixing and normalization in registers, and one write
// of every channel into the f32 NCHW output.
//
// Bindings (all storage, read_write: cubecl may pack several into one wgpu buffer):
//   @binding(0) header : array<u32>  batch + pipeline description (layout: src/augment/layout.rs),
//                                    followed by the slot list when V_GATHER
//   @binding(1) params : array<u32>  per-sample parameter blocks, header[H_STRIDE] words each
//   @binding(2) pixels : array<u32>  u8 HWC images, packed 4 bytes per word (little-endian): the
//                                    batch in order, or with V_GATHER a resident set of images
//                                    that sample s reads at slot header[HEADER_WORDS + s]
//   @binding(3) out    : array<f32>  n × c × out_h × out_w, normalized
//   @binding(4) masks  : array<u32>  u8 label planes (in_h × in_w, 0 = background), packed 4 per
//                                    word, laid out and gathered like `pixels` (one plane per image);
//                                    read only when V_MASKED (else a 1-word placeholder)
//   @binding(5) mask_out : array<u32> n × out_h × out_w labels, one per word; written only when
//                                    V_MASKED
//
// Masks follow the image's map with nearest-neighbour sampling (the same rounded position as
// interpolation = "nearest"), the border rule of the image (constant: label 0), no colour, noise
// or erasing; cutmix pastes the partner's labels inside its box (mixup is refused on the host).
//
// CPU twin: src/augment/cpu.rs (same maths, same order of operations). Hash and polynomial
// twins: src/util/rng.rs (mix32, pixel_hash, unit_f32), src/augment/fastmath.rs.
// Dispatch: workgroups of 256 along x; 2-D grid (header[H_GRID_X] groups per row) for batches
// needing more than 65,535 groups.
//
// Variants: the block of V_ constants below is rewritten by the host for every launch
// (augtrain_augment::variant): channels, interpolation, border, mixing, masks, gathering and
// which colour / noise op kinds and erase boxes appear are WGSL constants, so per-channel loops
// have a constant trip count and absent ops are behind a constant false. Each variant is one
// compiled pipeline (its key is in the kernel id). The header words those replace (H_C,
// H_INTERP, H_BORDER, H_MIX, H_GATHER, H_MASK) are still written, for the CPU twin, but not
// read here. The defaults in this file are the generic variant, so the file alone is a module.
//
// No bounds checks: cubecl compiles WGSL with naga's bounds checks off and, as this kernel is
// launched unchecked, without loop bounding (every loop here has a finite trip count: channels,
// header op counts <= 8, or the channel cursor that only grows). Every index is validated on the
// host before a launch:
//   header[H_*], header[H_COLOUR_KINDS + k], header[H_NOISE_KINDS + k]: the header has
//     HEADER_WORDS words and at most 8 ops per family (variant::Variant::of_launch);
//   header[HEADER_WORDS + s]: one slot per sample follows when gathering (of_launch), and every
//     slot is below the resident set's image count (gpu.rs run_resident);
//   params[s * stride + k]: params holds n × stride words, every part (geometry, colour, noise,
//     erase, mix) lies inside the stride, every mixing partner is < n (of_launch);
//   pixels[i / 4]: i < n × in_h × in_w × V_C (or the resident set's bytes) because the border
//     rule keeps (x, y) inside the image and the uploaded buffer holds the whole batch (gpu.rs
//     Pixels::check, ResidentImages); masks[p / 4] likewise (gpu.rs check_mask_bytes);
//   out[...], mask_out[...]: allocated n × V_C × out_h × out_w floats and n × out_h × out_w
//     words by the host, and gid < n × out_h × out_w is checked below.

@group(0) @binding(0) var<storage, read_write> header: array<u32>;
@group(0) @binding(1) var<storage, read_write> params: array<u32>;
@group(0) @binding(2) var<storage, read_write> pixels: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> masks: array<u32>;
@group(0) @binding(5) var<storage, read_write> mask_out: array<u32>;

const H_N: u32 = 0u;
const H_IN_H: u32 = 1u;
const H_IN_W: u32 = 2u;
const H_OUT_H: u32 = 4u;
const H_OUT_W: u32 = 5u;
const H_FILL: u32 = 8u;
const H_SCALE: u32 = 12u;
const H_BIAS: u32 = 16u;
const H_N_COLOUR: u32 = 20u;
const H_N_NOISE: u32 = 21u;
const H_N_BOXES: u32 = 22u;
const H_STRIDE: u32 = 23u;
const H_GRID_X: u32 = 25u;
const H_OFF_COLOUR: u32 = 26u;
const HEADER_WORDS: u32 = 48u;
const H_OFF_NOISE: u32 = 27u;
const H_OFF_ERASE: u32 = 28u;
const H_OFF_MIX: u32 = 29u;
const H_COLOUR_KINDS: u32 = 32u;
const H_NOISE_KINDS: u32 = 40u;

const P_AFFINE: u32 = 0u;
const P_FRAC: u32 = 6u;
const NOISE_WORDS: u32 = 2u;
const BOX_WORDS: u32 = 10u;

const COLOUR_BRIGHTNESS: u32 = 0u;
const COLOUR_CONTRAST: u32 = 1u;
const COLOUR_SATURATION: u32 = 2u;
const COLOUR_GAMMA: u32 = 3u;
const COLOUR_GRAYSCALE: u32 = 4u;

const NOISE_GAUSSIAN: u32 = 0u;
const NOISE_GAUSSIAN_SHARED: u32 = 1u;
const NOISE_SALT_PEPPER: u32 = 2u;
const NOISE_SPECKLE: u32 = 3u;

const INV_255: f32 = 1.0 / 255.0;
const LN2: f32 = 0.6931472;
const TAU: f32 = 6.2831855;
const SQRT2: f32 = 1.4142135;
const LUMA_R: f32 = 0.299;
const LUMA_G: f32 = 0.587;
const LUMA_B: f32 = 0.114;

// ---- variant c3-bilinear-constant-mix2-m1-g1-col1f-noi0f-e1: constants the host writes per launch (augtrain_augment::variant) ----
const V_C: u32 = 3u;
const V_INTERP: u32 = 0u;
const V_BORDER: u32 = 0u;
const V_MIX: u32 = 2u;
const V_MASKED: bool = true;
const V_GATHER: bool = true;
const V_COLOUR_OPS: u32 = 31u;
const V_NOISE_OPS: u32 = 15u;
const V_ERASE: bool = true;
// ---- end of variant ----

// Which op kinds this variant has (bit k of V_COLOUR_OPS / V_NOISE_OPS: kind k appears).
const HAS_BRIGHTNESS: bool = (V_COLOUR_OPS & (1u << COLOUR_BRIGHTNESS)) != 0u;
const HAS_CONTRAST: bool = (V_COLOUR_OPS & (1u << COLOUR_CONTRAST)) != 0u;
const HAS_SATURATION: bool = (V_COLOUR_OPS & (1u << COLOUR_SATURATION)) != 0u && V_C >= 3u;
const HAS_GAMMA: bool = (V_COLOUR_OPS & (1u << COLOUR_GAMMA)) != 0u;
const HAS_GRAYSCALE: bool = (V_COLOUR_OPS & (1u << COLOUR_GRAYSCALE)) != 0u && V_C >= 3u;
const HAS_GAUSSIAN: bool = (V_NOISE_OPS & ((1u << NOISE_GAUSSIAN) | (1u << NOISE_SPECKLE))) != 0u;
const HAS_SHARED: bool = (V_NOISE_OPS & (1u << NOISE_GAUSSIAN_SHARED)) != 0u;
const HAS_SALT_PEPPER: bool = (V_NOISE_OPS & (1u << NOISE_SALT_PEPPER)) != 0u;

// ---- hashing (twin: src/util/rng.rs) ----

fn mix32(x_in: u32) -> u32 {
    var x = x_in;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    x = x ^ (x >> 16u);
    return x;
}

fn pixel_hash(key: u32, index: u32) -> u32 {
    return mix32(key ^ mix32(index));
}

fn unit_f32(h: u32) -> f32 {
    return f32(h >> 8u) * (1.0 / 16777216.0);
}

// ---- polynomials (twin: src/augment/fastmath.rs) ----

fn fast_ln(x: f32) -> f32 {
    let bits = bitcast<u32>(x);
    var e = i32((bits >> 23u) & 0xffu) - 127;
    var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f800000u);
    if (m > SQRT2) {
        m = m * 0.5;
        e = e + 1;
    }
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let p = t * (2.0 + t2 * (0.6666667 + t2 * (0.4 + t2 * (0.2857143 + t2 * 0.22222222))));
    return f32(e) * LN2 + p;
}

fn cos_2pi(u: f32) -> f32 {
    let z = abs(u - 0.5) - 0.25;
    let x = z * TAU;
    let x2 = x * x;
    return x * (1.0 + x2 * (-0.16666667 + x2 * (0.008333334 + x2 * (-0.0001984127 + x2 * (2.7557319e-6 + x2 * -2.5052108e-8)))));
}

// Value j of the normal stream `key`: the cosine (even j) or sine (odd j) half of one
// Box-Muller pair drawn from one hash of j / 2 (two 16-bit uniforms).
fn gaussian(key: u32, j: u32) -> f32 {
    let h = pixel_hash(key, j >> 1u);
    let u1 = 1.0 - f32(h >> 16u) * (1.0 / 65536.0);
    let u2 = f32(h & 0xffffu) * (1.0 / 65536.0);
    var u = u2 + 0.75 * f32(j & 1u);
    if (u >= 1.0) {
        u = u - 1.0;
    }
    return sqrt(-2.0 * fast_ln(u1)) * cos_2pi(u);
}

// Values 2k and 2k + 1 of the normal stream `key` (both halves of Box-Muller pair k) from one
// hash, one ln and one sqrt: equal to gaussian(key, 2k) and gaussian(key, 2k + 1).
fn gaussian_pair(key: u32, k: u32) -> vec2<f32> {
    let h = pixel_hash(key, k);
    let u1 = 1.0 - f32(h >> 16u) * (1.0 / 65536.0);
    let u2 = f32(h & 0xffffu) * (1.0 / 65536.0);
    var u = u2 + 0.75;
    if (u >= 1.0) {
        u = u - 1.0;
    }
    let r = sqrt(-2.0 * fast_ln(u1));
    return vec2<f32>(r * cos_2pi(u2), r * cos_2pi(u));
}

// Gamma that stays finite under fast math (Metal): pow(0, g) is computed as exp2(g * log2(0)),
// which a fast-math compiler may turn into NaN; 0 stays 0 (g > 0).
fn safe_pow(v: f32, g: f32) -> f32 {
    return select(pow(max(v, 1e-30), g), 0.0, v <= 0.0);
}

// One value after additive (speckle = 0) or multiplicative (speckle = 1) Gaussian noise of
// `strength` with the normal value z (twin: `noisy` in cpu.rs).
fn noisy(v: f32, strength: f32, z: f32, speckle: f32) -> f32 {
    var delta = strength * z;
    if (speckle != 0.0) {
        delta = v * strength * z;
    }
    return clamp(v + delta, 0.0, 1.0);
}

// ---- sampling ----

// source_index's answer for "outside, constant border" (never a real index: byte indices are
// u32 and a batch is far below 4 GiB).
const FILL_INDEX: u32 = 0xffffffffu;

fn pword(s: u32, k: u32) -> u32 {
    return params[s * header[H_STRIDE] + k];
}

fn pfloat(s: u32, k: u32) -> f32 {
    return bitcast<f32>(pword(s, k));
}

fn reflect101(i_in: i32, n: i32) -> i32 {
    if (n == 1) {
        return 0;
    }
    let period = 2 * n - 2;
    var i = i_in % period;
    if (i < 0) {
        i = i + period;
    }
    if (i >= n) {
        i = period - i;
    }
    return i;
}

// Index of source pixel (x, y) of sample s, counted in pixels from the start of the buffer
// (image slot included), after the border rule; FILL_INDEX when the pixel lies outside and the
// border is the constant fill. Shared by the image (× channels) and the label plane.
fn source_pixel(s: u32, x_in: i32, y_in: i32) -> u32 {
    let iw = i32(header[H_IN_W]);
    let ih = i32(header[H_IN_H]);
    var x = x_in;
    var y = y_in;
    if (x < 0 || x >= iw || y < 0 || y >= ih) {
        if (V_BORDER == 0u) {
            return FILL_INDEX;
        } else if (V_BORDER == 1u) {
            x = clamp(x, 0, iw - 1);
            y = clamp(y, 0, ih - 1);
        } else {
            x = reflect101(x, iw);
            y = reflect101(y, ih);
        }
    }
    var slot = s;
    if (V_GATHER) {
        slot = header[HEADER_WORDS + s];
    }
    return slot * (header[H_IN_H] * header[H_IN_W]) + u32(y) * u32(iw) + u32(x);
}

// Index of the first channel of source pixel (x, y) of sample s in `pixels` (as bytes), after
// the border rule; FILL_INDEX when the pixel lies outside and the border is the constant fill.
fn source_index(s: u32, x: i32, y: i32) -> u32 {
    let p = source_pixel(s, x, y);
    if (p == FILL_INDEX) {
        return FILL_INDEX;
    }
    return p * V_C;
}

// Fixed-point source position (u, w) of output pixel (xo, yo) of sample s: the sample's inverse
// affine map, wrapping i32 arithmetic (as the twin's incremental sums). Read once per pixel and
// shared by the image and the label plane.
fn source_position(s: u32, xo: u32, yo: u32) -> vec2<i32> {
    let a = i32(pword(s, P_AFFINE));
    let b = i32(pword(s, P_AFFINE + 1u));
    let cc = i32(pword(s, P_AFFINE + 2u));
    let d = i32(pword(s, P_AFFINE + 3u));
    let e = i32(pword(s, P_AFFINE + 4u));
    let f = i32(pword(s, P_AFFINE + 5u));
    return vec2<i32>(a * i32(xo) + b * i32(yo) + cc, d * i32(xo) + e * i32(yo) + f);
}

// The source pixel nearest to fixed-point position `pos` (frac fractional bits), through
// source_pixel: round half up, as interpolation = "nearest".
fn nearest_pixel(s: u32, pos: vec2<i32>, frac: u32) -> u32 {
    let half = 1 << (frac - 1u);
    return source_pixel(s, (pos.x + half) >> frac, (pos.y + half) >> frac);
}

// Label of sample s at fixed-point position `pos`: its label plane's nearest pixel, 0 outside
// with the constant border.
fn mask_label(s: u32, pos: vec2<i32>, frac: u32) -> u32 {
    let p = nearest_pixel(s, pos, frac);
    if (p == FILL_INDEX) {
        return 0u;
    }
    return (masks[p >> 2u] >> ((p & 3u) * 8u)) & 0xffu;
}

// Source value of channel ch at `index` (from source_index) on the 0..=255 scale (the constant
// fill is scaled up to match).
fn texel(index: u32, ch: u32) -> f32 {
    if (index == FILL_INDEX) {
        return bitcast<f32>(header[H_FILL + ch]) * 255.0;
    }
    let i = index + ch;
    let b = (pixels[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
    return f32(b);
}

// Everything before mixing and normalization for one pixel of sample s, whose source position
// is `pos` (from source_position) with `frac` fractional bits.
fn sample_pixel(s: u32, xo: u32, yo: u32, pos: vec2<i32>, frac: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    let ow = header[H_OUT_W];
    let u = pos.x;
    let w = pos.y;
    if (V_INTERP == 1u) {
        let p = nearest_pixel(s, pos, frac);
        var i00 = FILL_INDEX;
        if (p != FILL_INDEX) {
            i00 = p * V_C;
        }
        for (var ch = 0u; ch < V_C; ch = ch + 1u) {
            v[ch] = texel(i00, ch) * INV_255;
        }
    } else {
        let mask = i32((1u << frac) - 1u);
        let inv = 1.0 / f32(1u << frac);
        let x0 = u >> frac;
        let y0 = w >> frac;
        let fx = f32(u & mask) * inv;
        let fy = f32(w & mask) * inv;
        let i00 = source_index(s, x0, y0);
        let i01 = source_index(s, x0 + 1, y0);
        let i10 = source_index(s, x0, y0 + 1);
        let i11 = source_index(s, x0 + 1, y0 + 1);
        for (var ch = 0u; ch < V_C; ch = ch + 1u) {
            let p00 = texel(i00, ch);
            let p01 = texel(i01, ch);
            let p10 = texel(i10, ch);
            let p11 = texel(i11, ch);
            let top = p00 + (p01 - p00) * fx;
            let bot = p10 + (p11 - p10) * fx;
            v[ch] = (top + (bot - top) * fy) * INV_255;
        }
    }

    // Colour ops, in pipeline order.
    let off_colour = header[H_OFF_COLOUR];
    for (var k = 0u; V_COLOUR_OPS != 0u && k < header[H_N_COLOUR]; k = k + 1u) {
        let fac = pfloat(s, off_colour + k);
        let kind = header[H_COLOUR_KINDS + k];
        if (HAS_BRIGHTNESS && kind == COLOUR_BRIGHTNESS && fac != 1.0) {
            for (var ch = 0u; ch < V_C; ch = ch + 1u) {
                v[ch] = clamp(v[ch] * fac, 0.0, 1.0);
            }
        } else if (HAS_CONTRAST && kind == COLOUR_CONTRAST && fac != 1.0) {
            for (var ch = 0u; ch < V_C; ch = ch + 1u) {
                v[ch] = clamp((v[ch] - 0.5) * fac + 0.5, 0.0, 1.0);
            }
        } else if (HAS_SATURATION && kind == COLOUR_SATURATION && fac != 1.0) {
            let g = LUMA_R * v[0] + LUMA_G * v[1] + LUMA_B * v[2];
            for (var ch = 0u; ch < 3u; ch = ch + 1u) {
                v[ch] = clamp(g + (v[ch] - g) * fac, 0.0, 1.0);
            }
        } else if (HAS_GAMMA && kind == COLOUR_GAMMA && fac != 1.0) {
            for (var ch = 0u; ch < V_C; ch = ch + 1u) {
                v[ch] = safe_pow(v[ch], fac);
            }
        } else if (HAS_GRAYSCALE && kind == COLOUR_GRAYSCALE && fac >= 0.5) {
            let g = LUMA_R * v[0] + LUMA_G * v[1] + LUMA_B * v[2];
            v[0] = g;
            v[1] = g;
            v[2] = g;
        }
    }

    // Noise ops, in pipeline order.
    let pix = yo * ow + xo;
    let off_noise = header[H_OFF_NOISE];
    for (var k = 0u; V_NOISE_OPS != 0u && k < header[H_N_NOISE]; k = k + 1u) {
        let strength = pfloat(s, off_noise + NOISE_WORDS * k);
        if (strength == 0.0) {
            continue;
        }
        let key = pword(s, off_noise + NOISE_WORDS * k + 1u);
        let kind = header[H_NOISE_KINDS + k];
        if (HAS_GAUSSIAN && (kind == NOISE_GAUSSIAN || kind == NOISE_SPECKLE)) {
            // Value j = pix * c + ch; a pair whose two halves are both this pixel's is drawn
            // once (2k, 2k + 1 with 2k + 1 < (pix + 1) * c).
            let speckle = f32(kind == NOISE_SPECKLE);
            var ch = 0u;
            loop {
                if (ch >= V_C) {
                    break;
                }
                let j = pix * V_C + ch;
                if ((j & 1u) == 0u && ch + 1u < V_C) {
                    let z = gaussian_pair(key, j >> 1u);
                    v[ch] = noisy(v[ch], strength, z.x, speckle);
                    v[ch + 1u] = noisy(v[ch + 1u], strength, z.y, speckle);
                    ch = ch + 2u;
                } else {
                    v[ch] = noisy(v[ch], strength, gaussian(key, j), speckle);
                    ch = ch + 1u;
                }
            }
        } else if (HAS_SHARED && kind == NOISE_GAUSSIAN_SHARED) {
            let z = gaussian(key, pix);
            for (var ch = 0u; ch < V_C; ch = ch + 1u) {
                v[ch] = clamp(v[ch] + strength * z, 0.0, 1.0);
            }
        } else if (HAS_SALT_PEPPER && kind == NOISE_SALT_PEPPER) {
            let r = unit_f32(pixel_hash(key, pix));
            if (r < strength * 0.5) {
                for (var ch = 0u; ch < V_C; ch = ch + 1u) {
                    v[ch] = 0.0;
                }
            } else if (r < strength) {
                for (var ch = 0u; ch < V_C; ch = ch + 1u) {
                    v[ch] = 1.0;
                }
            }
        }
    }

    // Erase boxes.
    let off_erase = header[H_OFF_ERASE];
    for (var k = 0u; V_ERASE && k < header[H_N_BOXES]; k = k + 1u) {
        let o = off_erase + BOX_WORDS * k;
        if (xo >= pword(s, o) && yo >= pword(s, o + 1u) && xo < pword(s, o + 2u) && yo < pword(s, o + 3u)) {
            let random = pword(s, o + 4u) != 0u;
            let key = pword(s, o + 5u);
            for (var ch = 0u; ch < V_C; ch = ch + 1u) {
                if (random) {
                    v[ch] = unit_f32(pixel_hash(key, pix * V_C + ch));
                } else {
                    v[ch] = pfloat(s, o + 6u + ch);
                }
            }
        }
    }
    return v;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let gid = (wg.y * header[H_GRID_X] + wg.x) * 256u + li;
    let oh = header[H_OUT_H];
    let ow = header[H_OUT_W];
    let plane = oh * ow;
    if (gid >= header[H_N] * plane) {
        return;
    }
    let s = gid / plane;
    let rem = gid - s * plane;
    let yo = rem / ow;
    let xo = rem - yo * ow;
    let frac = pword(s, P_FRAC);
    let pos = source_position(s, xo, yo);
    var v = sample_pixel(s, xo, yo, pos, frac);
    var label = 0u;
    if (V_MASKED) {
        label = mask_label(s, pos, frac);
    }

    if (V_MIX != 0u) {
        let om = header[H_OFF_MIX];
        let partner = pword(s, om);
        if (partner != s) {
            let lambda = pfloat(s, om + 1u);
            let pfrac = pword(partner, P_FRAC);
            if (V_MIX == 1u) {
                let pv = sample_pixel(partner, xo, yo, source_position(partner, xo, yo), pfrac);
                for (var ch = 0u; ch < V_C; ch = ch + 1u) {
                    v[ch] = v[ch] * lambda + pv[ch] * (1.0 - lambda);
                }
            } else if (xo >= pword(s, om + 2u) && yo >= pword(s, om + 3u) && xo < pword(s, om + 4u) && yo < pword(s, om + 5u)) {
                let ppos = source_position(partner, xo, yo);
                v = sample_pixel(partner, xo, yo, ppos, pfrac);
                if (V_MASKED) {
                    label = mask_label(partner, ppos, pfrac);
                }
            }
        }
    }

    for (var ch = 0u; ch < V_C; ch = ch + 1u) {
        let scale = bitcast<f32>(header[H_SCALE + ch]);
        let bias = bitcast<f32>(header[H_BIAS + ch]);
        out[(s * V_C + ch) * plane + rem] = v[ch] * scale + bias;
    }
    if (V_MASKED) {
        mask_out[s * plane + rem] = label;
    }
}
