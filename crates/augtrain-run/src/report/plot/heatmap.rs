//! The confusion-matrix heatmap: rows true class, columns predicted class, cell shade = share
//! of the row, cell text = count.

use plotters::prelude::*;

use super::{
    Anchor, Area, DrawError, INK, LABEL_PX, Rgb, TICK_PX, TITLE_PX, WHITE_RGB, fit, label,
    label_upwards, paint, rgb, text_width,
};
use crate::report::images::Picture;

/// Longest class label drawn, pixels (longer names are cut with "…").
const NAME_MAX_PX: i32 = 130;

/// The confusion matrix as a heatmap: rows true, columns predicted, cell shade = share of the
/// row, cell text = count (when the cells are large enough). Classes without a name in
/// `names` are labelled by their index.
pub fn confusion_heatmap(title: &str, counts: &[Vec<u64>], names: &[String]) -> Picture {
    let k = counts.len();
    let cell = (480 / k.max(1)).clamp(18, 64) as i32;
    let labels: Vec<String> = (0..k)
        .map(|i| {
            fit(
                names.get(i).map_or(&i.to_string(), |n| n),
                TICK_PX,
                NAME_MAX_PX,
            )
        })
        .collect();
    let widest = labels
        .iter()
        .map(|l| text_width(l, TICK_PX))
        .max()
        .unwrap_or(0);
    // Column labels lie flat when every one fits its column, else they read upwards.
    let upright = widest <= cell - 6;
    let col_labels_h = if upright { 22 } else { widest + 10 };
    let (left, top) = (30 + widest + 10, 44);
    let grid = cell * k as i32;
    let width = (left + grid + 20).max(text_width(title, TITLE_PX) + 20);
    let height = top + grid + col_labels_h + 50;
    paint(width as usize, height as usize, |area| {
        area.fill(&WHITE)?;
        label(area, title, (width / 2, 16), TITLE_PX, INK, Anchor::Center)?;
        cells(area, counts, (left, top), cell)?;
        for (t, name) in labels.iter().enumerate() {
            let mid = top + t as i32 * cell + cell / 2;
            label(area, name, (left - 6, mid), TICK_PX, INK, Anchor::Right)?;
        }
        for (p, name) in labels.iter().enumerate() {
            let mid = left + p as i32 * cell + cell / 2;
            if upright {
                label(
                    area,
                    name,
                    (mid, top + grid + 12),
                    TICK_PX,
                    INK,
                    Anchor::Center,
                )?;
            } else {
                label_upwards(area, name, (mid, top + grid + 6), TICK_PX, Anchor::Right)?;
            }
        }
        let below = top + grid + col_labels_h;
        label(
            area,
            "predicted",
            (left + grid / 2, below + 6),
            LABEL_PX,
            INK,
            Anchor::Center,
        )?;
        let note = "cell: count; shade: share of the true class's row";
        label(
            area,
            note,
            (left + grid / 2, below + 30),
            TICK_PX,
            [110; 3],
            Anchor::Center,
        )?;
        label_upwards(area, "true", (14, top + grid / 2), LABEL_PX, Anchor::Center)
    })
}

/// The shaded cells with their counts, the grid's top-left corner at `origin`.
fn cells(
    area: &Area,
    counts: &[Vec<u64>],
    (left, top): (i32, i32),
    cell: i32,
) -> Result<(), DrawError> {
    let k = counts.len();
    for (t, row) in counts.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (p, &v) in row.iter().enumerate().take(k) {
            let share = if total == 0 {
                0.0
            } else {
                v as f64 / total as f64
            };
            let (x, y) = (left + p as i32 * cell, top + t as i32 * cell);
            area.draw(&Rectangle::new(
                [(x, y), (x + cell - 1, y + cell - 1)],
                rgb(shade(share)).filled(),
            ))?;
            let text = v.to_string();
            if cell >= 28 && super::text_width(&text, TICK_PX) <= cell - 4 {
                let ink = if share > 0.5 { WHITE_RGB } else { INK };
                label(
                    area,
                    &text,
                    (x + cell / 2, y + cell / 2),
                    TICK_PX,
                    ink,
                    Anchor::Center,
                )?;
            }
        }
    }
    Ok(())
}

/// The colour of a cell holding `share` of its row: from near-white to dark blue.
fn shade(share: f64) -> Rgb {
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * share).round() as u8;
    [mix(247, 8), mix(251, 48), mix(255, 107)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb_at(p: &Picture, x: usize, y: usize) -> Rgb {
        let i = (y * p.width + x) * 3;
        [p.pixels[i], p.pixels[i + 1], p.pixels[i + 2]]
    }

    #[test]
    fn cells_are_shaded_by_their_share_of_the_row() {
        let names = ["cat".to_string(), "dog".to_string()];
        let p = confusion_heatmap("cm", &[vec![9, 1], vec![0, 7]], &names);
        // Every share of a row appears as its shade: 0.9, 0.1, 0 and 1.
        for share in [0.9, 0.1, 0.0, 1.0] {
            let c = shade(share);
            let n = (0..p.height)
                .flat_map(|y| (0..p.width).map(move |x| (x, y)))
                .filter(|&(x, y)| rgb_at(&p, x, y) == c)
                .count();
            assert!(n > 400, "share {share}: {n} pixels");
        }
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let empty = confusion_heatmap("cm", &[], &[]);
        assert!(empty.width > 0 && empty.height > 0);
        // Fewer names than classes: the rest are numbered.
        let p = confusion_heatmap(
            "cm",
            &[vec![1, 0, 0], vec![0, 1, 0], vec![0, 0, 0]],
            &["only".into()],
        );
        assert!(p.width > 100);
        // Many classes with long names: labels are cut, the picture stays bounded.
        let k = 60;
        let counts: Vec<Vec<u64>> = (0..k)
            .map(|i| (0..k).map(|j| u64::from(i == j)).collect())
            .collect();
        let names: Vec<String> = (0..k)
            .map(|i| format!("an unreasonably long class name number {i}"))
            .collect();
        let big = confusion_heatmap("cm", &counts, &names);
        assert!(
            big.width <= 30 + 10 + NAME_MAX_PX as usize + 18 * k + 20 + 16,
            "{}",
            big.width
        );
    }
}
