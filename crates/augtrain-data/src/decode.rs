//! Decoding one image file into fixed-size `u8` HWC pixels: format sniffing, a pixel limit
//! against decompression bombs, EXIF orientation applied, conversion to 1 or 3 channels, and a
//! resize policy. Failures come back as a [`BadReason`] so that loaders can report and skip the
//! file instead of stopping.

use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use serde::{Deserialize, Serialize};

use crate::LoadOptions;

/// How images of another size are brought to the target size at load time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ResizePolicy {
    /// Scale so the image covers the target, then cut the centre (torchvision's
    /// `Resize` + `CenterCrop`).
    #[default]
    #[serde(alias = "centre-crop", alias = "crop")]
    CenterCrop,
    /// Scale each axis independently to the target (aspect ratio changes).
    Stretch,
    /// Scale to fit inside the target and pad the rest with black, centred.
    #[serde(alias = "letterbox-pad", alias = "pad")]
    Letterbox,
}

crate::from_str_via_serde!(ResizePolicy);

/// Default limit on decoded pixels per image (width × height): 100 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// Why a file could not be used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum BadReason {
    /// The file does not exist (manifest rows).
    Missing,
    /// The file is empty.
    ZeroBytes,
    /// Not a format the image crate recognizes.
    NotAnImage,
    /// The data ends early.
    Truncated(String),
    /// The data is damaged.
    Corrupt(String),
    /// More pixels than the limit (a decompression bomb or a huge scan).
    TooLarge(String),
    /// The file could not be read.
    Unreadable(String),
    /// The label is not one of the known classes.
    UnknownLabel(String),
}

impl std::fmt::Display for BadReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadReason::Missing => write!(f, "file not found"),
            BadReason::ZeroBytes => write!(f, "zero bytes"),
            BadReason::NotAnImage => write!(f, "not an image (unrecognized format)"),
            BadReason::Truncated(d) => write!(f, "truncated ({d})"),
            BadReason::Corrupt(d) => write!(f, "decode error ({d})"),
            BadReason::TooLarge(d) => write!(f, "too large ({d})"),
            BadReason::Unreadable(d) => write!(f, "unreadable ({d})"),
            BadReason::UnknownLabel(d) => write!(f, "unknown label ({d})"),
        }
    }
}

/// A decoded image at the target size.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// HWC pixels at the target size and channel count.
    pub pixels: Vec<u8>,
    /// Width and height of the file's image (after orientation).
    pub original: (u32, u32),
    /// Format name (png, jpeg, ...).
    pub format: String,
    /// Channels of the file's colour type.
    pub source_channels: u8,
    /// Whether an EXIF orientation other than "normal" was applied.
    pub rotated: bool,
}

fn classify(e: image::ImageError) -> BadReason {
    use image::ImageError as E;
    match e {
        E::Limits(l) => BadReason::TooLarge(l.to_string()),
        E::Unsupported(u) => {
            let text = u.to_string();
            if text.contains("format")
                && (text.contains("could not be determined") || text.contains("not supported"))
            {
                BadReason::NotAnImage
            } else {
                BadReason::Corrupt(text)
            }
        }
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            BadReason::Truncated(io.to_string())
        }
        E::IoError(io) => BadReason::Unreadable(io.to_string()),
        other => {
            let text = other.to_string();
            let lower = text.to_ascii_lowercase();
            if lower.contains("eof")
                || lower.contains("end of file")
                || lower.contains("truncat")
                || lower.contains("unexpected end")
            {
                BadReason::Truncated(text)
            } else {
                BadReason::Corrupt(text)
            }
        }
    }
}

/// Whether a JPEG's last scan is followed by an end-of-image marker (`FF D9`). Entropy-coded
/// data stuffs `FF` bytes, so these markers cannot occur inside a scan; an embedded EXIF
/// thumbnail's markers come before the main image's scans.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last = |m: u8| bytes.windows(2).rposition(|w| w[0] == 0xFF && w[1] == m);
    match (last(0xDA), last(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        (None, Some(_)) => true,
        _ => false,
    }
}

/// Decode the image in `bytes`, apply its orientation, and return it full size.
pub fn decode_full(
    bytes: &[u8],
    max_pixels: u64,
) -> Result<(DynamicImage, String, bool), BadReason> {
    if bytes.is_empty() {
        return Err(BadReason::ZeroBytes);
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| BadReason::Unreadable(e.to_string()))?;
    let Some(format) = reader.format() else {
        return Err(BadReason::NotAnImage);
    };
    if format == image::ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        // The JPEG decoder pads a cut-off scan with gray instead of failing.
        return Err(BadReason::Truncated(
            "no end-of-image marker after the last scan".into(),
        ));
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(16).max(1 << 20));
    reader.limits(limits);
    // The codecs are third-party code: a crafted file has made zune-jpeg's upsampler panic
    // (found by the fuzzer), so a decoder panic is this file's fault, not the run's.
    let name = format!("{format:?}").to_ascii_lowercase();
    let shown = name.clone();
    crate::util::panic::contain(move || decode_with(reader, max_pixels, name)).unwrap_or_else(
        |why| {
            Err(BadReason::Corrupt(format!(
                "the {shown} decoder failed on this file: {why}"
            )))
        },
    )
}

/// The decoding half of [`decode_full`], run inside a panic boundary.
fn decode_with(
    reader: ImageReader<Cursor<&[u8]>>,
    max_pixels: u64,
    format: String,
) -> Result<(DynamicImage, String, bool), BadReason> {
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > max_pixels {
        return Err(BadReason::TooLarge(format!(
            "{w}x{h} = {} pixels, limit {max_pixels}",
            w as u64 * h as u64
        )));
    }
    if w == 0 || h == 0 {
        return Err(BadReason::Corrupt(format!("image is {w}x{h}")));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(classify)?;
    let rotated = orientation != image::metadata::Orientation::NoTransforms;
    img.apply_orientation(orientation);
    Ok((img, format, rotated))
}

/// Bring `img` to `opts`' size and channels.
pub fn fit(img: &DynamicImage, opts: &LoadOptions) -> Vec<u8> {
    let (tw, th) = (opts.size[0], opts.size[1]);
    let (w, h) = (img.width(), img.height());
    let filter = FilterType::Triangle;
    let resized: DynamicImage = match opts.resize {
        ResizePolicy::Stretch => img.resize_exact(tw, th, filter),
        ResizePolicy::CenterCrop => {
            // Largest centred window of the target's aspect ratio, then scale it.
            let (cw, ch) = if w as u64 * th as u64 > h as u64 * tw as u64 {
                (((h as u64 * tw as u64) / th as u64).max(1) as u32, h)
            } else {
                (w, ((w as u64 * th as u64) / tw as u64).max(1) as u32)
            };
            let (x0, y0) = ((w - cw) / 2, (h - ch) / 2);
            img.crop_imm(x0, y0, cw, ch).resize_exact(tw, th, filter)
        }
        ResizePolicy::Letterbox => {
            let scale = (tw as f64 / w as f64).min(th as f64 / h as f64);
            let (sw, sh) = (
                ((w as f64 * scale).round() as u32).clamp(1, tw),
                ((h as f64 * scale).round() as u32).clamp(1, th),
            );
            let inner = img.resize_exact(sw, sh, filter).to_rgba8();
            let mut canvas = image::RgbaImage::from_pixel(tw, th, image::Rgba([0, 0, 0, 255]));
            image::imageops::overlay(
                &mut canvas,
                &inner,
                ((tw - sw) / 2) as i64,
                ((th - sh) / 2) as i64,
            );
            DynamicImage::ImageRgba8(canvas)
        }
    };
    if opts.channels == 1 {
        resized.to_luma8().into_raw()
    } else {
        resized.to_rgb8().into_raw()
    }
}

/// Decode `bytes` to the target shape.
pub fn decode_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<Decoded, BadReason> {
    let (img, format, rotated) = decode_full(bytes, opts.max_pixels)?;
    let source_channels = img.color().channel_count();
    let original = (img.width(), img.height());
    Ok(Decoded {
        pixels: fit(&img, opts),
        original,
        format,
        source_channels,
        rotated,
    })
}

/// Read and decode one file to the target shape.
pub fn decode_file(path: &Path, opts: &LoadOptions) -> Result<(Decoded, Vec<u8>), BadReason> {
    let bytes = crate::util::fs::read_regular(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BadReason::Missing,
        _ => BadReason::Unreadable(e.to_string()),
    })?;
    let decoded = decode_bytes(&bytes, opts)?;
    Ok((decoded, bytes))
}

/// A small JPEG carrying an EXIF orientation tag (an APP1 segment inserted after SOI); for
/// tests of orientation handling and metadata removal.
pub fn jpeg_with_orientation(w: u32, h: u32, orientation: u16) -> Vec<u8> {
    let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 128])
    }));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 100)
        .encode_image(&img)
        .unwrap();
    let mut app1 = vec![0xFF, 0xE1, 0, 34];
    app1.extend_from_slice(b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0");
    app1.extend_from_slice(&orientation.to_le_bytes());
    app1.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resize_spelling_parses() {
        use ResizePolicy::*;
        for (s, want) in [
            ("center-crop", CenterCrop),
            ("center_crop", CenterCrop),
            ("Center-Crop", CenterCrop),
            ("centre-crop", CenterCrop),
            ("centre_crop", CenterCrop),
            ("crop", CenterCrop),
            ("stretch", Stretch),
            ("STRETCH", Stretch),
            ("letterbox", Letterbox),
            ("letterbox-pad", Letterbox),
            ("letterbox_pad", Letterbox),
            ("pad", Letterbox),
        ] {
            assert_eq!(s.parse(), Ok(want), "{s}");
        }
        let e = "squash".parse::<ResizePolicy>().unwrap_err();
        assert!(
            ["`center-crop`", "`stretch`", "`letterbox`"]
                .iter()
                .all(|v| e.contains(v)),
            "{e}"
        );
        assert_eq!(crate::util::names::name(&CenterCrop), "center-crop");
    }

    fn png(w: u32, h: u32, rgb: bool) -> Vec<u8> {
        let img = if rgb {
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([x as u8, y as u8, 7])
            }))
        } else {
            DynamicImage::ImageLuma8(image::GrayImage::from_fn(w, h, |x, _| {
                image::Luma([x as u8])
            }))
        };
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    fn opts(w: u32, h: u32, c: usize, resize: ResizePolicy) -> LoadOptions {
        LoadOptions {
            size: [w, h],
            channels: c,
            resize,
            max_pixels: DEFAULT_MAX_PIXELS,
            ..LoadOptions::default()
        }
    }

    #[test]
    fn decodes_and_fits_every_policy() {
        let bytes = png(40, 20, true);
        for policy in [
            ResizePolicy::CenterCrop,
            ResizePolicy::Stretch,
            ResizePolicy::Letterbox,
        ] {
            let d = decode_bytes(&bytes, &opts(10, 10, 3, policy)).unwrap();
            assert_eq!(d.pixels.len(), 300);
            assert_eq!(d.original, (40, 20));
            assert_eq!(d.format, "png");
        }
        // Letterbox pads top and bottom with black.
        let d = decode_bytes(&bytes, &opts(10, 10, 3, ResizePolicy::Letterbox)).unwrap();
        assert_eq!(&d.pixels[..3], &[0, 0, 0]);
        // Gray to RGB and RGB to gray.
        let g = decode_bytes(&png(8, 8, false), &opts(8, 8, 3, ResizePolicy::Stretch)).unwrap();
        assert_eq!(g.pixels.len(), 192);
        assert_eq!(g.source_channels, 1);
        let c = decode_bytes(&bytes, &opts(8, 8, 1, ResizePolicy::Stretch)).unwrap();
        assert_eq!(c.pixels.len(), 64);
    }

    #[test]
    fn exif_orientation_is_applied() {
        let plain = decode_full(&jpeg_with_orientation(8, 4, 1), DEFAULT_MAX_PIXELS).unwrap();
        assert!(!plain.2);
        assert_eq!((plain.0.width(), plain.0.height()), (8, 4));
        let turned = decode_full(&jpeg_with_orientation(8, 4, 6), DEFAULT_MAX_PIXELS).unwrap();
        assert!(turned.2, "orientation 6 must be applied");
        assert_eq!((turned.0.width(), turned.0.height()), (4, 8));
        assert_eq!(turned.0.to_rgb8(), plain.0.rotate90().to_rgb8());
        assert!(crate::export::has_metadata(&jpeg_with_orientation(8, 4, 6)));
    }

    #[test]
    fn bad_inputs_have_reasons() {
        let o = opts(8, 8, 3, ResizePolicy::Stretch);
        assert_eq!(decode_bytes(&[], &o).unwrap_err(), BadReason::ZeroBytes);
        assert_eq!(
            decode_bytes(b"hello, this is text", &o).unwrap_err(),
            BadReason::NotAnImage
        );
        let good = png(64, 64, true);
        let cut = &good[..good.len() / 2];
        let e = decode_bytes(cut, &o).unwrap_err();
        assert!(
            matches!(e, BadReason::Truncated(_) | BadReason::Corrupt(_)),
            "{e:?}"
        );
        let small_limit = LoadOptions {
            max_pixels: 100,
            ..o.clone()
        };
        assert!(matches!(
            decode_bytes(&good, &small_limit).unwrap_err(),
            BadReason::TooLarge(_)
        ));
    }
}
