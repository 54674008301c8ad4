//! Detection-aware crop windows: `iou_crop` (SSD's sampler) and `safe_crop`. Both draw from
//! the op's own counter-based stream and look at the sample's boxes as they lie on the canvas
//! at that point of the pipeline; without boxes, or after every attempt failed, they return the
//! whole canvas. Windows have whole-pixel corners and sizes.

use augtrain_data::util::rng::Stream;

/// A crop window `(x0, y0, width, height)` in canvas pixels.
pub type Window = (f64, f64, f64, f64);

/// A box `[x0, y0, x1, y1]` in canvas pixels.
pub type Corners = [f64; 4];

/// Settings of an `iou_crop` (see [`crate::spec::OpSpec::IouCrop`]).
pub struct IouCrop<'a> {
    /// Minimum IoU choices.
    pub thresholds: &'a [f64],
    /// Window side fraction range, per axis.
    pub scale: [f64; 2],
    /// Window aspect (w/h) range.
    pub aspect: [f64; 2],
    /// Windows tried.
    pub attempts: u32,
    /// Whether "no crop" is one of the choices.
    pub allow_no_crop: bool,
}

fn area(b: &Corners) -> f64 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

fn overlap(a: &Corners, b: &Corners) -> f64 {
    let w = a[2].min(b[2]) - a[0].max(b[0]);
    let h = a[3].min(b[3]) - a[1].max(b[1]);
    w.max(0.0) * h.max(0.0)
}

fn corners(w: &Window) -> Corners {
    [w.0, w.1, w.0 + w.2, w.1 + w.3]
}

/// A window with whole-pixel sides `cw × ch` at a uniformly drawn whole-pixel position.
fn place(rng: &mut Stream, w: f64, h: f64, cw: f64, ch: f64) -> Window {
    let x0 = rng.below((w - cw) as u64 + 1) as f64;
    let y0 = rng.below((h - ch) as u64 + 1) as f64;
    (x0, y0, cw, ch)
}

/// SSD's sampler on a `w × h` canvas: one choice among the thresholds (and "no crop"), then
/// up to `attempts` windows until one has IoU ≥ the threshold with a box whose centre it
/// contains. Boxes with no area are ignored.
pub fn iou_window(rng: &mut Stream, w: f64, h: f64, boxes: &[Corners], op: &IouCrop) -> Window {
    let whole = (0.0, 0.0, w, h);
    let choices = op.thresholds.len() as u64 + u64::from(op.allow_no_crop);
    let choice = rng.below(choices.max(1)) as usize;
    let boxes: Vec<&Corners> = boxes.iter().filter(|b| area(b) > 0.0).collect();
    if choice >= op.thresholds.len() || boxes.is_empty() {
        return whole;
    }
    let threshold = op.thresholds[choice];
    for _ in 0..op.attempts {
        let cw = (rng.range(op.scale[0], op.scale[1]) * w)
            .round()
            .clamp(1.0, w);
        let ch = (rng.range(op.scale[0], op.scale[1]) * h)
            .round()
            .clamp(1.0, h);
        let window = place(rng, w, h, cw, ch);
        let aspect = cw / ch;
        if aspect < op.aspect[0] || aspect > op.aspect[1] {
            continue;
        }
        let c = corners(&window);
        let fits = boxes.iter().any(|b| {
            let (mx, my) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
            let inter = overlap(b, &c);
            let iou = inter / (area(b) + area(&c) - inter);
            c[0] <= mx && mx <= c[2] && c[1] <= my && my <= c[3] && iou >= threshold
        });
        if fits {
            return window;
        }
    }
    whole
}

/// Settings of a `safe_crop` (see [`crate::spec::OpSpec::SafeCrop`]).
pub struct SafeCrop {
    /// Area fraction range.
    pub scale: [f64; 2],
    /// Aspect ratio (w/h) range, log-uniform.
    pub ratio: [f64; 2],
    /// Largest fraction of a box's area the window may cut off.
    pub max_cut: f64,
    /// Windows tried.
    pub attempts: u32,
}

/// Windows of random area and aspect until every box is either outside or keeps at least
/// `1 − max_cut` of its area, and at least one box is kept.
pub fn safe_window(rng: &mut Stream, w: f64, h: f64, boxes: &[Corners], op: &SafeCrop) -> Window {
    let whole = (0.0, 0.0, w, h);
    let boxes: Vec<&Corners> = boxes.iter().filter(|b| area(b) > 0.0).collect();
    if boxes.is_empty() {
        return whole;
    }
    let (lr0, lr1) = (op.ratio[0].ln(), op.ratio[1].ln());
    for _ in 0..op.attempts {
        let target = w * h * rng.range(op.scale[0], op.scale[1]);
        let aspect = rng.range(lr0, lr1).exp();
        let cw = (target * aspect).sqrt().round();
        let ch = (target / aspect).sqrt().round();
        if !(cw >= 1.0 && cw <= w && ch >= 1.0 && ch <= h) {
            continue;
        }
        let window = place(rng, w, h, cw, ch);
        let c = corners(&window);
        let mut kept = 0;
        let clean = boxes.iter().all(|b| {
            let kept_fraction = overlap(b, &c) / area(b);
            kept += usize::from(kept_fraction > 0.0);
            kept_fraction == 0.0 || kept_fraction >= 1.0 - op.max_cut - 1e-12
        });
        if clean && kept > 0 {
            return window;
        }
    }
    whole
}

#[cfg(test)]
mod tests {
    use super::*;
    use augtrain_data::util::rng::Domain;

    const SSD: IouCrop = IouCrop {
        thresholds: &[0.1, 0.3, 0.5, 0.7, 0.9],
        scale: [0.3, 1.0],
        aspect: [0.5, 2.0],
        attempts: 50,
        allow_no_crop: false,
    };

    #[test]
    fn iou_crops_keep_an_object() {
        let boxes = [[10.0, 10.0, 30.0, 40.0], [60.0, 50.0, 90.0, 70.0]];
        for seed in 0..200 {
            let mut rng = Stream::new(Domain::Augment, &[seed]);
            let win = iou_window(&mut rng, 100.0, 80.0, &boxes, &SSD);
            let c = corners(&win);
            assert!(
                c[0] >= 0.0 && c[2] <= 100.0 && c[1] >= 0.0 && c[3] <= 80.0,
                "{win:?}"
            );
            let centred = boxes.iter().any(|b| {
                let (mx, my) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
                c[0] <= mx && mx <= c[2] && c[1] <= my && my <= c[3]
            });
            assert!(centred, "seed {seed}: {win:?} keeps no object");
        }
    }

    #[test]
    fn images_without_boxes_get_the_whole_canvas() {
        let mut rng = Stream::new(Domain::Augment, &[1]);
        assert_eq!(
            iou_window(&mut rng, 50.0, 40.0, &[], &SSD),
            (0.0, 0.0, 50.0, 40.0)
        );
        let op = SafeCrop {
            scale: [0.3, 1.0],
            ratio: [0.75, 1.33],
            max_cut: 0.0,
            attempts: 50,
        };
        assert_eq!(
            safe_window(&mut rng, 50.0, 40.0, &[], &op),
            (0.0, 0.0, 50.0, 40.0)
        );
    }

    #[test]
    fn safe_crops_never_cut_beyond_the_threshold() {
        let boxes = [
            [10.0, 10.0, 30.0, 40.0],
            [60.0, 50.0, 90.0, 70.0],
            [40.0, 5.0, 45.0, 9.0],
        ];
        for max_cut in [0.0, 0.3] {
            let op = SafeCrop {
                scale: [0.2, 0.6],
                ratio: [0.5, 2.0],
                max_cut,
                attempts: 100,
            };
            let mut cropped = 0;
            for seed in 0..200 {
                let mut rng = Stream::new(Domain::Augment, &[seed, 7]);
                let win = safe_window(&mut rng, 100.0, 80.0, &boxes, &op);
                cropped += usize::from(win != (0.0, 0.0, 100.0, 80.0));
                let c = corners(&win);
                for b in &boxes {
                    let kept = overlap(b, &c) / area(b);
                    assert!(kept == 0.0 || kept >= 1.0 - max_cut - 1e-9, "{win:?} {b:?}");
                }
            }
            assert!(cropped > 100, "max_cut {max_cut}: only {cropped} crops");
        }
    }
}
