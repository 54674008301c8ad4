//! Agreement between annotators on boxes. Where an image holds objects drawn by several
//! annotators (Label Studio's `completed_by`, CVAT or a COCO `annotator` field), each pair of
//! annotators' boxes is matched per class by IoU: the optimal one-to-one assignment
//! ([`crate::matching`], maximising the total IoU) among pairs with IoU ≥ the threshold.
//!
//! For a pair of annotators with `n_a` and `n_b` boxes and `M` matches, F1 is `2M / (n_a +
//! n_b)` (precision and recall of one against the other; symmetric), and the mean IoU is over
//! the matches. Per image and per annotator these are pooled over the pairs involved (matches,
//! boxes and IoU sums added). A box's dispute is `1 -` its mean IoU with its match in each other
//! annotator's boxes on the image (0 where unmatched): 0 when everyone drew the same box, 1
//! when nobody else drew it.
//!
//! Only drawn objects count (not predictions), with their box (or the box around their shape,
//! [`Object::extent`]) and an annotator.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::iou::box_iou;
use crate::matching::{Objective, assign};
use crate::model::{BBox, Dataset, Image, Object, Origin};

/// Settings of the agreement report.
#[derive(Debug, Clone)]
pub struct AgreementOptions {
    /// Boxes of two annotators match only with IoU at least this.
    pub iou_threshold: f64,
    /// How many of the most disputed boxes to list.
    pub most_disputed: usize,
}

impl Default for AgreementOptions {
    fn default() -> Self {
        AgreementOptions {
            iou_threshold: 0.5,
            most_disputed: 20,
        }
    }
}

/// Matches, boxes and IoU pooled over annotator pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Matched box pairs.
    pub matched: usize,
    /// Boxes compared, counted once per pair they took part in (`n_a + n_b` per pair).
    pub boxes: usize,
    /// Sum of the IoUs of the matches.
    pub iou_sum: f64,
}

impl Tally {
    /// `2 matched / boxes`; 1 when there were no boxes (nothing to disagree on).
    pub fn f1(&self) -> f64 {
        if self.boxes == 0 {
            1.0
        } else {
            2.0 * self.matched as f64 / self.boxes as f64
        }
    }

    /// Mean IoU of the matches; `None` without matches.
    pub fn mean_iou(&self) -> Option<f64> {
        (self.matched > 0).then(|| self.iou_sum / self.matched as f64)
    }

    fn add(&mut self, other: &Tally) {
        self.matched += other.matched;
        self.boxes += other.boxes;
        self.iou_sum += other.iou_sum;
    }
}

/// Agreement on one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageAgreement {
    /// Index of the image in the data set.
    pub image: usize,
    /// The image file.
    pub file_name: String,
    /// The annotators who drew on it, sorted.
    pub annotators: Vec<String>,
    /// Pooled over every pair of them.
    pub tally: Tally,
}

/// Agreement of one annotator with the others, over the images they share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnnotatorAgreement {
    /// The annotator.
    pub annotator: String,
    /// Images where they and someone else drew.
    pub images: usize,
    /// Their boxes on those images.
    pub boxes: usize,
    /// Pooled over every pair they are in.
    pub tally: Tally,
}

/// A box and how much the other annotators disagree with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoxDispute {
    /// Index of the image.
    pub image: usize,
    /// The image file.
    pub file_name: String,
    /// Index of the object in the image.
    pub object: usize,
    /// Who drew it.
    pub annotator: String,
    /// Its class name.
    pub class: String,
    /// `1 -` mean IoU with its matches (0 for each annotator without one).
    pub dispute: f64,
    /// The other annotators on the image who have no box matching it.
    pub unmatched_by: Vec<String>,
}

/// The whole agreement report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoxAgreement {
    /// The IoU threshold used.
    pub iou_threshold: f64,
    /// Every image with two or more annotators, in data set order.
    pub images: Vec<ImageAgreement>,
    /// Every annotator on such images, by name.
    pub annotators: Vec<AnnotatorAgreement>,
    /// Pooled over all images.
    pub overall: Tally,
    /// Boxes some other annotator on their image has no match for, in image order.
    pub unmatched: Vec<BoxDispute>,
    /// The most disputed boxes (dispute > 0), most disputed first.
    pub most_disputed: Vec<BoxDispute>,
}

/// One drawn box on an image.
struct Drawn<'a> {
    object: usize,
    annotator: &'a str,
    class: usize,
    bbox: BBox,
}

/// The agreement report of `d`, or `None` when no image has boxes from two annotators.
pub fn box_agreement(d: &Dataset, opts: &AgreementOptions) -> Option<BoxAgreement> {
    let mut images = Vec::new();
    let mut per_annotator: BTreeMap<String, AnnotatorAgreement> = BTreeMap::new();
    let mut overall = Tally::default();
    let mut disputes = Vec::new();
    for (index, image) in d.images.iter().enumerate() {
        let drawn = drawn_boxes(image);
        let names: BTreeSet<&str> = drawn.iter().map(|b| b.annotator).collect();
        if names.len() < 2 {
            continue;
        }
        let names: Vec<&str> = names.into_iter().collect();
        let result = image_agreement(&drawn, &names, opts.iou_threshold);
        overall.add(&result.tally);
        for (k, name) in names.iter().enumerate() {
            let entry =
                per_annotator
                    .entry(name.to_string())
                    .or_insert_with(|| AnnotatorAgreement {
                        annotator: name.to_string(),
                        images: 0,
                        boxes: 0,
                        tally: Tally::default(),
                    });
            entry.images += 1;
            entry.boxes += drawn.iter().filter(|b| b.annotator == *name).count();
            entry.tally.add(&result.per_annotator[k]);
        }
        disputes.extend(box_disputes(d, index, &drawn, &names, &result.best));
        images.push(ImageAgreement {
            image: index,
            file_name: image.file_name.clone(),
            annotators: names.iter().map(|s| s.to_string()).collect(),
            tally: result.tally,
        });
    }
    if images.is_empty() {
        return None;
    }
    // Rank by index and clone only the few listed; the unmatched boxes are moved.
    let mut ranked: Vec<usize> = (0..disputes.len())
        .filter(|&i| disputes[i].dispute > 0.0)
        .collect();
    ranked.sort_by(|&a, &b| {
        let (a, b) = (&disputes[a], &disputes[b]);
        b.dispute
            .total_cmp(&a.dispute)
            .then(a.image.cmp(&b.image))
            .then(a.object.cmp(&b.object))
    });
    let most = ranked
        .iter()
        .take(opts.most_disputed)
        .map(|&i| disputes[i].clone())
        .collect();
    let unmatched = disputes
        .into_iter()
        .filter(|b| !b.unmatched_by.is_empty())
        .collect();
    Some(BoxAgreement {
        iou_threshold: opts.iou_threshold,
        images,
        annotators: per_annotator.into_values().collect(),
        overall,
        unmatched,
        most_disputed: most,
    })
}

/// The drawn boxes of an image that have an annotator.
fn drawn_boxes(image: &Image) -> Vec<Drawn<'_>> {
    image
        .objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.origin == Origin::Annotation)
        .filter_map(|(i, o): (usize, &Object)| {
            Some(Drawn {
                object: i,
                annotator: o.annotator.as_deref()?,
                class: o.class,
                bbox: o.extent()?,
            })
        })
        .collect()
}

/// What one image's matching gives.
struct ImageResult {
    tally: Tally,
    /// Per annotator (index into the sorted names), their pairs pooled.
    per_annotator: Vec<Tally>,
    /// `best[box][annotator]`: the IoU of the box's match among that annotator's boxes.
    best: Vec<Vec<Option<f64>>>,
}

/// Match every pair of annotators' boxes on one image, class by class.
fn image_agreement(drawn: &[Drawn], names: &[&str], threshold: f64) -> ImageResult {
    let who: Vec<usize> = drawn
        .iter()
        .map(|b| names.binary_search(&b.annotator).expect("name listed"))
        .collect();
    let mut result = ImageResult {
        tally: Tally::default(),
        per_annotator: vec![Tally::default(); names.len()],
        best: vec![vec![None; names.len()]; drawn.len()],
    };
    for a in 0..names.len() {
        for b in a + 1..names.len() {
            let mut pair = Tally::default();
            let classes: BTreeSet<usize> = drawn
                .iter()
                .zip(&who)
                .filter(|&(_, &w)| w == a || w == b)
                .map(|(d, _)| d.class)
                .collect();
            for class in classes {
                let pick = |w: usize| -> Vec<usize> {
                    (0..drawn.len())
                        .filter(|&i| who[i] == w && drawn[i].class == class)
                        .collect()
                };
                let (xs, ys) = (pick(a), pick(b));
                pair.boxes += xs.len() + ys.len();
                for (i, j, iou) in match_boxes(drawn, &xs, &ys, threshold) {
                    pair.matched += 1;
                    pair.iou_sum += iou;
                    result.best[i][b] = Some(iou);
                    result.best[j][a] = Some(iou);
                }
            }
            result.tally.add(&pair);
            result.per_annotator[a].add(&pair);
            result.per_annotator[b].add(&pair);
        }
    }
    result
}

/// The optimal matching of boxes `xs` to boxes `ys` (indices into `drawn`) among pairs with
/// IoU ≥ `threshold`: maximum total IoU, as `(x, y, iou)`. Boxes only compete within groups
/// connected by such pairs, so each group is solved on its own (a crowd of a thousand boxes
/// becomes many small assignments instead of one 1000 × 1000).
fn match_boxes(
    drawn: &[Drawn],
    xs: &[usize],
    ys: &[usize],
    threshold: f64,
) -> Vec<(usize, usize, f64)> {
    let n = xs.len();
    let mut parent: Vec<usize> = (0..n + ys.len()).collect();
    let mut edges = Vec::new();
    for (r, &i) in xs.iter().enumerate() {
        for (c, &j) in ys.iter().enumerate() {
            let iou = box_iou(&drawn[i].bbox, &drawn[j].bbox, false);
            if iou >= threshold {
                edges.push((r, c, iou));
                let (a, b) = (root(&mut parent, r), root(&mut parent, n + c));
                parent[a] = b;
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<(usize, usize, f64)>> = BTreeMap::new();
    for e in edges {
        groups.entry(root(&mut parent, e.0)).or_default().push(e);
    }
    let mut out = Vec::new();
    for group in groups.values() {
        let rows: Vec<usize> = group
            .iter()
            .map(|e| e.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let cols: Vec<usize> = group
            .iter()
            .map(|e| e.1)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut weights = vec![0.0; rows.len() * cols.len()];
        for &(r, c, iou) in group {
            let (rr, cc) = (
                rows.binary_search(&r).expect("row"),
                cols.binary_search(&c).expect("col"),
            );
            weights[rr * cols.len() + cc] = iou;
        }
        // Weights are finite IoUs in [threshold, 1] or 0, so the assignment cannot fail.
        let pairs =
            assign(&weights, rows.len(), cols.len(), Objective::Maximize).unwrap_or_default();
        for (rr, cc) in pairs {
            let w = weights[rr * cols.len() + cc];
            if w > 0.0 {
                out.push((xs[rows[rr]], ys[cols[cc]], w));
            }
        }
    }
    out
}

/// The root of `a`'s group (union-find with path halving).
fn root(parent: &mut [usize], mut a: usize) -> usize {
    while parent[a] != a {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    a
}

/// Every box's dispute on one image.
fn box_disputes(
    d: &Dataset,
    image: usize,
    drawn: &[Drawn],
    names: &[&str],
    best: &[Vec<Option<f64>>],
) -> Vec<BoxDispute> {
    let file_name = &d.images[image].file_name;
    drawn
        .iter()
        .zip(best)
        .map(|(b, best)| {
            let others: Vec<usize> = (0..names.len())
                .filter(|&k| names[k] != b.annotator)
                .collect();
            let sum: f64 = others.iter().map(|&k| best[k].unwrap_or(0.0)).sum();
            BoxDispute {
                image,
                file_name: file_name.clone(),
                object: b.object,
                annotator: b.annotator.to_string(),
                class: d
                    .classes
                    .get(b.class)
                    .map_or_else(|| format!("#{}", b.class), |c| c.name.clone()),
                dispute: 1.0 - sum / others.len() as f64,
                unmatched_by: others
                    .iter()
                    .filter(|&&k| best[k].is_none())
                    .map(|&k| names[k].to_string())
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Class;

    fn drawn(class: usize, who: &str, x: f64, y: f64, w: f64, h: f64) -> Object {
        Object {
            bbox: Some(BBox {
                x,
                y,
                width: w,
                height: h,
            }),
            annotator: Some(who.into()),
            ..Object::of_class(class)
        }
    }

    fn dataset(images: Vec<Vec<Object>>) -> Dataset {
        Dataset {
            images: images
                .into_iter()
                .enumerate()
                .map(|(i, objects)| Image {
                    file_name: format!("{i}.jpg"),
                    width: 100,
                    height: 100,
                    id: None,
                    objects,
                    tags: Vec::new(),
                })
                .collect(),
            classes: vec![
                Class {
                    name: "cat".into(),
                    ..Class::default()
                },
                Class {
                    name: "dog".into(),
                    ..Class::default()
                },
            ],
            ..Dataset::default()
        }
    }

    #[test]
    fn two_annotators_matched_per_class_by_optimal_iou() {
        // ann drew two cats and a dog; bob drew the same cats (one shifted), the dog as a cat,
        // and one extra cat far away.
        let d = dataset(vec![
            vec![
                drawn(0, "ann", 0.0, 0.0, 10.0, 10.0),
                drawn(0, "ann", 5.0, 0.0, 10.0, 10.0),
                drawn(1, "ann", 50.0, 50.0, 10.0, 10.0),
                drawn(0, "bob", 0.0, 0.0, 10.0, 10.0),
                drawn(0, "bob", 6.0, 0.0, 10.0, 10.0),
                drawn(0, "bob", 50.0, 50.0, 10.0, 10.0),
                drawn(0, "bob", 80.0, 80.0, 10.0, 10.0),
            ],
            // One annotator only: not compared.
            vec![drawn(0, "ann", 0.0, 0.0, 10.0, 10.0)],
        ]);
        let r = box_agreement(&d, &AgreementOptions::default()).unwrap();
        assert_eq!(r.images.len(), 1);
        let t = r.images[0].tally;
        // Cats: 0-3 (IoU 1) and 1-4 (IoU 9/11); the dog and bob's far cat match nothing.
        assert_eq!(t.matched, 2);
        assert_eq!(t.boxes, 7);
        assert!(
            (t.iou_sum - (1.0 + 90.0 / 110.0)).abs() < 1e-12,
            "{}",
            t.iou_sum
        );
        assert!((t.f1() - 4.0 / 7.0).abs() < 1e-12);
        assert_eq!(r.annotators.len(), 2);
        assert_eq!(r.annotators[0].annotator, "ann");
        assert_eq!(r.annotators[0].boxes, 3);
        assert_eq!(r.annotators[1].boxes, 4);
        let unmatched: Vec<usize> = r.unmatched.iter().map(|b| b.object).collect();
        assert_eq!(unmatched, vec![2, 5, 6]);
        assert_eq!(r.unmatched[0].unmatched_by, vec!["bob".to_string()]);
        // Fully disputed first (dispute 1), then the shifted pair (1 - 9/11).
        let top: Vec<(usize, f64)> = r
            .most_disputed
            .iter()
            .map(|b| (b.object, b.dispute))
            .collect();
        assert_eq!(
            top[..3].iter().map(|t| t.0).collect::<Vec<_>>(),
            vec![2, 5, 6]
        );
        assert!((top[3].1 - (1.0 - 90.0 / 110.0)).abs() < 1e-12);
        assert_eq!(top.len(), 5);
    }

    #[test]
    fn the_assignment_beats_greedy_matching() {
        // Greedy, best IoU first, would take a0-b0 (9/11) and leave a1 with b1 (IoU 5/15,
        // under the threshold): one match. The optimum takes a0-b1 and a1-b0 (8/12 each).
        let d = dataset(vec![vec![
            drawn(0, "a", 0.0, 0.0, 10.0, 10.0),
            drawn(0, "a", 3.0, 0.0, 10.0, 10.0),
            drawn(0, "b", 1.0, 0.0, 10.0, 10.0),
            drawn(0, "b", -2.0, 0.0, 10.0, 10.0),
        ]]);
        let r = box_agreement(&d, &AgreementOptions::default()).unwrap();
        assert_eq!(r.overall.matched, 2);
        assert!(
            (r.overall.iou_sum - 16.0 / 12.0).abs() < 1e-12,
            "{}",
            r.overall.iou_sum
        );
        assert!(r.unmatched.is_empty());
    }

    /// A crowded image (2,000 boxes per annotator) is matched completely. (Its speed is a
    /// benchmark target, not asserted here: a timed test fails on a busy machine.)
    #[test]
    fn a_crowd_of_two_thousand_boxes_per_annotator_is_matched() {
        let mut objects = Vec::new();
        for k in 0..2000 {
            let (x, y) = (f64::from(k % 50) * 20.0, f64::from(k / 50) * 20.0);
            objects.push(drawn(0, "a", x, y, 15.0, 15.0));
            objects.push(drawn(0, "b", x + 1.0, y, 15.0, 15.0));
        }
        let r = box_agreement(&dataset(vec![objects]), &AgreementOptions::default()).unwrap();
        assert_eq!(r.overall.matched, 2000);
    }

    #[test]
    fn three_annotators_pool_their_pairs_and_predictions_are_ignored() {
        let mut pred = drawn(0, "model", 0.0, 0.0, 10.0, 10.0);
        pred.origin = Origin::Prediction;
        let d = dataset(vec![vec![
            drawn(0, "a", 0.0, 0.0, 10.0, 10.0),
            drawn(0, "b", 0.0, 0.0, 10.0, 10.0),
            drawn(0, "c", 40.0, 40.0, 10.0, 10.0),
            pred,
        ]]);
        let r = box_agreement(&d, &AgreementOptions::default()).unwrap();
        assert_eq!(r.images[0].annotators, vec!["a", "b", "c"]);
        assert_eq!(r.overall.matched, 1);
        assert_eq!(r.overall.boxes, 6);
        let c = &r.annotators[2];
        assert_eq!(
            (c.annotator.as_str(), c.tally.matched, c.tally.f1()),
            ("c", 0, 0.0)
        );
        // a's box: matched by b (IoU 1), not by c: dispute 1 - (1 + 0) / 2.
        let a = r.most_disputed.iter().find(|b| b.annotator == "a").unwrap();
        assert_eq!(a.dispute, 0.5);
        assert_eq!(a.unmatched_by, vec!["c".to_string()]);
        assert!(
            box_agreement(
                &dataset(vec![vec![drawn(0, "a", 0.0, 0.0, 1.0, 1.0)]]),
                &AgreementOptions::default()
            )
            .is_none()
        );
    }
}
