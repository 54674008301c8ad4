//! The memory a flag value makes augtrain allocate, estimated and checked before anything is
//! allocated, so that `--synthetic-train 1000000000` or `--size 4096x4096` is a usage error
//! naming the largest value that fits instead of an abort after terabytes were asked for.
//!
//! **The budget is the machine's physical memory** (`MemTotal` of `/proc/meminfo`; 16 GiB
//! where that cannot be read). A value whose need is above it can never succeed on this
//! machine, so refusing it is never wrong, and the same command gives the same answer
//! whatever else runs at the moment (available memory would change from one run to the
//! next). A value under the budget may still fail when other processes hold the memory.
//!
//! The estimates are deliberately simple and on the generous side of real use:
//! - images are held as `u8`, height × width × channels bytes each;
//! - training one batch takes [`TRAIN_BYTES_PER_INPUT_VALUE`] bytes per input value (the
//!   activations kept for the backward pass: measured about 23 floats per input value
//!   forward for the CNN and 33 for ResNet-18, doubled for their gradients), plus 16 bytes
//!   per parameter (weights, gradients and two optimizer moments).

use crate::Error;
use crate::data::ImageShape;
use crate::util::fs::human_bytes;
use augtrain_run::config::ModelKind;
use augtrain_run::config::TrainConfig;

/// Bytes one training batch takes per input value (`channels × height × width` per image):
/// activations and their gradients (see the module docs).
pub const TRAIN_BYTES_PER_INPUT_VALUE: u64 = 256;

/// Bytes per model parameter during training: the weight, its gradient and two optimizer
/// moments (Adam), `f32` each.
pub const TRAIN_BYTES_PER_PARAMETER: u64 = 16;

/// Where a budget comes from when the machine cannot say.
const FALLBACK: u64 = 16 << 30;

/// The memory budget in bytes: physical memory (see the module docs).
pub fn memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib.saturating_mul(1024))
        })
        .unwrap_or(FALLBACK)
}

/// A usage error when `need` bytes exceed `budget`: `what` (the flags and values) needs about
/// so much, more than this machine's memory; `largest` says what fits.
pub fn check(what: &str, need: u64, budget: u64, largest: &str) -> crate::Result<()> {
    if need <= budget {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{what} needs about {} of memory, more than this machine's {} (its physical memory); {largest}",
        human_bytes(need),
        human_bytes(budget)
    )))
}

/// The largest `x` in `1..=max` with `need(x) <= budget`, if any (`need` grows with `x`).
pub fn largest(max: u64, budget: u64, need: impl Fn(u64) -> u64) -> Option<u64> {
    if need(1) > budget {
        return None;
    }
    let (mut lo, mut hi) = (1u64, max);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if need(mid) <= budget {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// Bytes of `images` images of `shape` held as `u8`.
pub fn image_bytes(images: u64, shape: ImageShape) -> u64 {
    images.saturating_mul(shape.values() as u64)
}

/// Bytes of training `kind` on batches of `batch` images of `shape` (see the module docs).
/// The class count only sizes the head; `classes` may be a guess before the data is read.
pub fn training_bytes(
    kind: ModelKind,
    shape: ImageShape,
    classes: usize,
    hidden: usize,
    batch: usize,
) -> u64 {
    let params = crate::model::param_count(kind, shape, classes, hidden);
    (batch as u64)
        .saturating_mul(shape.values() as u64)
        .saturating_mul(TRAIN_BYTES_PER_INPUT_VALUE)
        .saturating_add(params.saturating_mul(TRAIN_BYTES_PER_PARAMETER))
}

/// Check what `train` (and `cv`) will allocate for `cfg` before the data is read: the
/// built-in synthetic images (`--synthetic-train`, `--synthetic-test`, `--synthetic-size`)
/// and one training batch (`--size`, `--batch-size`, the model).
pub fn check_train(cfg: &TrainConfig) -> crate::Result<()> {
    let budget = memory();
    let d = &cfg.data;
    let synthetic = d.path.is_none();
    let shape = if synthetic {
        ImageShape::new(d.synthetic_size, d.synthetic_size, 3)
    } else {
        ImageShape::new(d.size[0] as usize, d.size[1] as usize, d.channels)
    };
    if synthetic {
        let images = (d.synthetic_train as u64).saturating_add(d.synthetic_test as u64);
        let fits_train = largest(images, budget, |n| {
            image_bytes(n.saturating_add(d.synthetic_test as u64), shape)
        });
        let fits_side = largest(d.synthetic_size as u64, budget, |s| {
            image_bytes(images, ImageShape::new(s as usize, s as usize, 3))
        });
        check(
            &format!(
                "the built-in data (--synthetic-train {} --synthetic-test {} --synthetic-size {})",
                d.synthetic_train, d.synthetic_test, d.synthetic_size
            ),
            image_bytes(images, shape),
            budget,
            &format!(
                "the largest that fits is --synthetic-train {} at this size, or --synthetic-size {} at this count",
                fits_train.map_or("0".into(), |n| n.to_string()),
                fits_side.map_or("0".into(), |n| n.to_string()),
            ),
        )?;
    }
    let m = &cfg.model;
    let need =
        |shape: ImageShape, batch: u64| training_bytes(m.kind, shape, 10, m.hidden, batch as usize);
    let batch = cfg.batch_size as u64;
    let side_flag = if synthetic {
        "--synthetic-size"
    } else {
        "--size"
    };
    let fits_batch = largest(batch, budget, |b| need(shape, b));
    let fits_side = largest(shape.width.max(shape.height) as u64, budget, |s| {
        need(
            ImageShape::new(s as usize, s as usize, shape.channels),
            batch,
        )
    });
    check(
        &format!(
            "training {} on {}x{}x{} images in batches of {batch}",
            m.kind, shape.width, shape.height, shape.channels
        ),
        need(shape, batch),
        budget,
        &format!(
            "the largest that fits is --batch-size {} at this size, or {side_flag} {} at this batch size",
            fits_batch.map_or("0".into(), |n| n.to_string()),
            fits_side.map_or("0".into(), |s| if synthetic {
                s.to_string()
            } else {
                format!("{s}x{s}")
            }),
        ),
    )
}

/// Check what `augment` will hold for `versions` augmented versions of `n` images of
/// `output` shape, plus (`preview`) a contact sheet of `cell` × `cell`-pixel RGB cells.
pub fn check_augment(
    n: usize,
    versions: usize,
    output: ImageShape,
    preview: Option<usize>,
) -> crate::Result<()> {
    let budget = memory();
    // Each augmented image, plus its record (about 600 bytes of JSON and strings).
    let per_image = output.values() as u64 + 600;
    let cell = preview.map_or(0, |c| ((c + 4) * (c + 4) * 3) as u64);
    let need = |v: u64| {
        let images = (n as u64).saturating_mul(v);
        images
            .saturating_mul(per_image)
            .saturating_add(images.saturating_add(n as u64).saturating_mul(cell))
    };
    let fits = largest(versions as u64, budget, need);
    check(
        &format!("--versions {versions} of {n} images"),
        need(versions as u64),
        budget,
        &format!(
            "the largest --versions that fits is {}",
            fits.map_or("0".into(), |v| v.to_string())
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_value_that_fits_is_found_exactly() {
        assert_eq!(largest(1000, 500, |x| x * 7), Some(71));
        assert_eq!(largest(1000, 5, |x| x * 7), None);
        assert_eq!(largest(10, u64::MAX, |x| x), Some(10));
        assert!(memory() > 1 << 20);
        let err = check("--x 9", 2_000_000_000, 1_000_000_000, "use --x 4 or less")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--x 9 needs about 2.0 GB of memory, more than this machine's 1.0 GB (its physical memory); use --x 4 or less"
        );
    }
}
