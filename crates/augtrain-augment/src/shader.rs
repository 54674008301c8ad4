//! The fused augmentation kernel's WGSL source, `augment.wgsl` beside this file, and the checks
//! that it and its CPU twin mirror each other.
//!
//! The kernel and the twin are one slice: the WGSL reads the words laid out by [`crate::layout`]
//! and draws noise with the hashes of `augtrain_data::util::rng` and the polynomials of
//! [`crate::fastmath`]. The `augtrain` crate only launches it (`src/augment/gpu.rs`). The tests
//! below fail when a layout word, a hash constant or a polynomial coefficient changes on one
//! side only; the GPU tests (`tests/testsuite/gpu.rs`) then compare whole batches.

/// The WGSL source of the fused kernel, as its generic variant: every launch runs the source
/// of its own [`crate::variant::Variant`] (this text with the variant block replaced).
/// Bindings: `header`, `params`, `pixels`, `out`, `masks`, `mask_out` (see the comment at the
/// top of the file). CPU twin: [`crate::cpu::run`].
pub const AUGMENT_WGSL: &str = include_str!("augment.wgsl");

/// Invocations per workgroup, `@workgroup_size` of [`AUGMENT_WGSL`]'s entry point.
pub const WORKGROUP: u32 = 256;

#[cfg(test)]
mod tests {
    use super::*;

    /// A numeric literal, compared by value: `0x7feb352du` equals `0x7feb_352d`, and
    /// `0.6666667` equals `0.666_666_7` (both read as `f32`).
    #[derive(Debug, PartialEq)]
    enum Literal {
        Int(u64),
        Float(u32),
    }

    /// The text with `//` comments removed (neither language here nests them in strings).
    fn strip_comments(text: &str) -> String {
        text.lines()
            .map(|line| line.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The body (between the outer braces) of `fn name(` in `source`.
    fn body<'a>(source: &'a str, name: &str) -> &'a str {
        let start = source
            .find(&format!("fn {name}("))
            .unwrap_or_else(|| panic!("no fn {name}"));
        let open = start + source[start..].find('{').expect("a body");
        let mut depth = 0;
        for (i, ch) in source[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return &source[open + 1..open + i];
                    }
                }
                _ => {}
            }
        }
        panic!("unbalanced braces in fn {name}")
    }

    /// The numeric literals of `code` in order, except the integers 0 and 1 (the twins write
    /// "add one where" differently: a branch in WGSL, a bool cast in Rust).
    fn literals(code: &str) -> Vec<Literal> {
        let bytes = code.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let starts_number = bytes[i].is_ascii_digit()
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
            if !starts_number {
                i += 1;
                continue;
            }
            let end = (i..bytes.len())
                .find(|&j| {
                    let b = bytes[j];
                    let exponent_sign =
                        (b == b'-' || b == b'+') && matches!(bytes[j - 1], b'e' | b'E');
                    !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || exponent_sign)
                })
                .unwrap_or(bytes.len());
            out.extend(parse_literal(&code[i..end]));
            i = end;
        }
        out
    }

    fn parse_literal(token: &str) -> Option<Literal> {
        let token = token.replace('_', "");
        if let Some(hex) = token.strip_prefix("0x") {
            let digits = hex.trim_end_matches(['u', 'i']).trim_end_matches("32");
            return Some(Literal::Int(u64::from_str_radix(digits, 16).unwrap()));
        }
        let plain = token
            .trim_end_matches("f32")
            .trim_end_matches("u32")
            .trim_end_matches("i32")
            .trim_end_matches(['u', 'i', 'f']);
        if plain.contains('.') || plain.contains('e') {
            return Some(Literal::Float(plain.parse::<f32>().unwrap().to_bits()));
        }
        let value: u64 = plain.parse().unwrap();
        (value > 1).then_some(Literal::Int(value))
    }

    fn wgsl() -> String {
        strip_comments(AUGMENT_WGSL)
    }

    /// The twin functions `code` calls, in order (`mix32(key ^ mix32(index))` → two `mix32`).
    fn twin_calls(code: &str) -> Vec<&'static str> {
        let mut calls: Vec<(usize, &'static str)> = TWINS
            .iter()
            .flat_map(|name| {
                let call = format!("{name}(");
                code.match_indices(&call)
                    .filter(|(i, _)| {
                        let before = code[..*i].chars().next_back();
                        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    })
                    .map(|(i, _)| (i, *name))
                    .collect::<Vec<_>>()
            })
            .collect();
        calls.sort();
        calls.into_iter().map(|(_, name)| name).collect()
    }

    /// The functions written twice, in WGSL and in Rust.
    const TWINS: [&str; 6] = [
        "mix32",
        "pixel_hash",
        "unit_f32",
        "fast_ln",
        "cos_2pi",
        "gaussian",
    ];

    /// The two bodies have the same numeric constants and call the same twins, in order.
    fn assert_same_function(name: &str, rust_source: &str) {
        let (kernel, rust) = (wgsl(), strip_comments(rust_source));
        let (w, r) = (body(&kernel, name), body(&rust, name));
        let (w_lits, r_lits) = (literals(w), literals(r));
        let (w_calls, r_calls) = (twin_calls(w), twin_calls(r));
        assert!(
            !(w_lits.is_empty() && w_calls.is_empty()),
            "fn {name}: nothing to compare"
        );
        assert_eq!(w_lits, r_lits, "fn {name}: constants differ (WGSL, Rust)");
        assert_eq!(w_calls, r_calls, "fn {name}: calls differ (WGSL, Rust)");
    }

    #[test]
    fn hashes_and_polynomials_are_the_same_in_the_kernel_and_the_twin() {
        let rng = include_str!("../../augtrain-data/src/util/rng.rs");
        let fastmath = include_str!("fastmath.rs");
        for name in ["mix32", "pixel_hash", "unit_f32"] {
            assert_same_function(name, rng);
        }
        for name in ["fast_ln", "cos_2pi", "gaussian"] {
            assert_same_function(name, fastmath);
        }
    }

    /// `const NAME: u32 = VALUE;` declarations of the WGSL, as (name, value).
    fn wgsl_u32_constants() -> Vec<(String, u64)> {
        wgsl()
            .lines()
            .filter_map(|line| {
                let rest = line.trim().strip_prefix("const ")?;
                let (name, value) = rest.split_once(": u32 =")?;
                let value = value.trim().trim_end_matches(';');
                match parse_literal(value) {
                    Some(Literal::Int(v)) => Some((name.trim().to_string(), v)),
                    _ if value.trim_end_matches('u') == "0" => Some((name.trim().to_string(), 0)),
                    _ if value.trim_end_matches('u') == "1" => Some((name.trim().to_string(), 1)),
                    _ => None,
                }
            })
            .collect()
    }

    /// `pub const NAME: usize|u32 = VALUE;` declarations of `layout.rs`, as (name, value).
    fn layout_constants() -> Vec<(String, u64)> {
        include_str!("layout.rs")
            .lines()
            .filter_map(|line| {
                let rest = line.trim().strip_prefix("pub const ")?;
                let (name, value) = rest
                    .split_once(": usize =")
                    .or_else(|| rest.split_once(": u32 ="))?;
                let value = value.trim().trim_end_matches(';').replace('_', "");
                Some((name.trim().to_string(), value.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn every_layout_word_the_kernel_reads_has_the_twins_value() {
        let layout = layout_constants();
        assert!(
            layout.len() >= 40,
            "layout.rs parsed to {} constants",
            layout.len()
        );
        let shared = ["H_", "P_", "COLOUR_", "NOISE_", "HEADER_WORDS", "BOX_WORDS"];
        let mut checked = 0;
        for (name, value) in wgsl_u32_constants() {
            if !shared.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            let twin = layout.iter().find(|(n, _)| *n == name);
            let (_, twin_value) = twin.unwrap_or_else(|| panic!("{name} is not in layout.rs"));
            assert_eq!(
                value, *twin_value,
                "{name}: WGSL {value}, layout.rs {twin_value}"
            );
            checked += 1;
        }
        assert!(
            checked > 30,
            "only {checked} layout words found in the WGSL"
        );
    }

    /// The value of `const NAME: f32 = VALUE;` in the WGSL.
    fn wgsl_f32(name: &str) -> f32 {
        let text = wgsl();
        let line = text
            .lines()
            .find(|l| l.trim().starts_with(&format!("const {name}: f32 =")))
            .unwrap_or_else(|| panic!("no const {name}"));
        let value = line.split('=').nth(1).unwrap().trim().trim_end_matches(';');
        match value.split_once('/') {
            Some((a, b)) => a.trim().parse::<f32>().unwrap() / b.trim().parse::<f32>().unwrap(),
            None => value.parse().unwrap(),
        }
    }

    #[test]
    fn the_kernels_float_constants_are_the_twins() {
        use std::f32::consts::{LN_2, SQRT_2, TAU};
        assert_eq!(wgsl_f32("LN2"), LN_2);
        assert_eq!(wgsl_f32("TAU"), TAU);
        assert_eq!(wgsl_f32("SQRT2"), SQRT_2);
        assert_eq!(wgsl_f32("INV_255"), 1.0 / 255.0);
        let luma = [wgsl_f32("LUMA_R"), wgsl_f32("LUMA_G"), wgsl_f32("LUMA_B")];
        assert_eq!(luma, crate::layout::LUMA);
    }

    #[test]
    fn the_workgroup_size_is_the_launchers() {
        let size = format!("@workgroup_size({WORKGROUP})");
        assert_eq!(AUGMENT_WGSL.matches("@workgroup_size(").count(), 1);
        assert!(
            AUGMENT_WGSL.contains(&size),
            "the kernel does not declare {size}"
        );
    }

    #[test]
    fn a_changed_coefficient_is_caught() {
        let rust = "fn f(x: f32) -> f32 { x * 0.666_666_7 + (x >> 16) as f32 }";
        let wgsl = "fn f(x: f32) -> f32 { return x * 0.6666667 + f32(x >> 16u); }";
        assert_eq!(literals(body(rust, "f")), literals(body(wgsl, "f")));
        let drifted = "fn f(x: f32) -> f32 { return x * 0.6666668 + f32(x >> 16u); }";
        assert_ne!(literals(body(rust, "f")), literals(body(drifted, "f")));
    }
}
