//! Data quality: the image dataset audit and the annotation audit.
//!
//! [`audit`] checks every image of a dataset: corrupt files (with the reason), exact duplicates
//! (equal decoded pixels, so re-saved files match) and near duplicates (64-bit pHash within a
//! Hamming radius, searched by multi-index hashing, grouped by union-find), leaks (a duplicate group
//! spanning splits), exact duplicates whose labels disagree (the same pixels cannot be two
//! classes: at least one label is wrong), image health with cleanvision's definitions
//! ([`health`]) and class imbalance.

pub mod annotations;
pub mod annotations_html;
pub mod health;
pub mod html;
pub mod label_agreement;
pub mod numpy;
pub mod phash;
pub mod semantic;

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use augtrain_data::DataError;
use augtrain_data::LoadOptions;
use augtrain_data::decode::{BadReason, decode_full};
use augtrain_data::files::{FileItem, SplitName, read_manifest, scan_folder};
use augtrain_data::source::{DataSource, load_whole};
use augtrain_data::util::escape::escape;
use health::Health;
use phash::{MultiIndex, UnionFind};
use semantic::{SemanticInput, SemanticReport};

/// Audit settings (how files are read comes from the [`LoadOptions`]).
#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// Largest Hamming distance between pHashes of near duplicates (0–64).
    pub near_radius: u32,
    /// Embeddings for semantic near duplicates and outliers ([`semantic`]), if any.
    pub semantic: Option<SemanticInput>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            near_radius: 4,
            semantic: None,
        }
    }
}

/// One image's row of the audit: `<issue>_score` in [0, 1] (lower = worse) and
/// `is_<issue>_issue` per issue; null scores for a corrupt file.
#[derive(Clone, Debug, Serialize)]
pub struct ImageRow {
    /// Position in the audit.
    pub index: usize,
    /// Source path (or record name).
    pub path: String,
    /// Split the source assigns, if any.
    pub split: Option<SplitName>,
    /// Class name.
    pub label: String,
    /// Width as stored (after EXIF orientation).
    pub width: u32,
    /// Height as stored.
    pub height: u32,
    /// Why the file is unusable, if it is.
    pub corrupt_reason: Option<String>,
    /// 0 for a corrupt file, else 1.
    pub corrupt_score: f64,
    /// The file cannot be used.
    pub is_corrupt_issue: bool,
    /// 0 when another image has exactly the same pixels, else 1.
    pub exact_duplicates_score: f64,
    /// Has an exact duplicate.
    pub is_exact_duplicates_issue: bool,
    /// Index of its exact-duplicate group in `exact_duplicate_groups`.
    pub exact_duplicates_group: Option<usize>,
    /// 0 when an exact duplicate of it has another label, else 1.
    pub conflicting_labels_score: f64,
    /// Has an exact duplicate with another label (its group is in `conflicting_label_groups`).
    pub is_conflicting_labels_issue: bool,
    /// Smallest pHash distance to another (non-identical) image over 64, 1 when none is within
    /// the radius.
    pub near_duplicates_score: f64,
    /// Has a near duplicate within the radius.
    pub is_near_duplicates_issue: bool,
    /// Index of its near-duplicate group in `near_duplicate_groups`.
    pub near_duplicates_group: Option<usize>,
    /// Belongs to a duplicate group spanning splits.
    pub is_leak_issue: bool,
    /// 99th percentile brightness.
    pub dark_score: f64,
    /// Too dark.
    pub is_dark_issue: bool,
    /// 1 − 5th percentile brightness.
    pub light_score: f64,
    /// Too light.
    pub is_light_issue: bool,
    /// `min(w/h, h/w)`.
    pub odd_aspect_ratio_score: f64,
    /// Extreme aspect ratio.
    pub is_odd_aspect_ratio_issue: bool,
    /// Normalized entropy.
    pub low_information_score: f64,
    /// Little information (flat).
    pub is_low_information_issue: bool,
    /// Edge strength.
    pub blurry_score: f64,
    /// Blurry.
    pub is_blurry_issue: bool,
    /// Distance from the dataset's size fences.
    pub odd_size_score: f64,
    /// Unusually large or small.
    pub is_odd_size_issue: bool,
    /// 0 for gray content stored as colour.
    pub grayscale_score: f64,
    /// Gray content stored as colour.
    pub is_grayscale_issue: bool,
    /// 1 − the largest cosine similarity of its embedding to another image's, in [0, 1]
    /// (absent without embeddings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantic_duplicates_score: Option<f64>,
    /// Has a semantic near duplicate (similarity at least the threshold).
    pub is_semantic_duplicates_issue: bool,
    /// Index of its group in the semantic report's `groups`.
    pub semantic_duplicates_group: Option<usize>,
    /// cleanlab's out-of-distribution score from embeddings, in (0, 1], lower = more unusual
    /// (absent without embeddings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlier_score: Option<f64>,
    /// Flagged as an outlier (Datalab's rule).
    pub is_outlier_issue: bool,
}

/// A group of duplicates and the splits it touches.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// Member indices.
    pub members: Vec<usize>,
    /// Their paths.
    pub paths: Vec<String>,
    /// Their labels, one per member.
    pub labels: Vec<String>,
    /// Distinct splits of the members.
    pub splits: Vec<String>,
}

impl Group {
    /// Whether the members do not all have the same label.
    pub fn has_conflicting_labels(&self) -> bool {
        self.labels.windows(2).any(|w| w[0] != w[1])
    }
}

/// Class balance.
#[derive(Clone, Debug, Serialize)]
pub struct Imbalance {
    /// Images per class.
    pub counts: BTreeMap<String, usize>,
    /// Share of the rarest class.
    pub rarest_share: f64,
    /// `0.1 / K`.
    pub threshold: f64,
    /// `rarest_share < threshold`.
    pub is_issue: bool,
}

/// The whole audit.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    /// What was audited.
    pub source: String,
    /// Images (files) audited, corrupt ones included.
    pub images: usize,
    /// Count of images with each issue.
    pub issue_counts: BTreeMap<String, usize>,
    /// Exact-duplicate groups.
    pub exact_duplicate_groups: Vec<Group>,
    /// Exact-duplicate groups whose members have different labels.
    pub conflicting_label_groups: Vec<Group>,
    /// Near-duplicate groups.
    pub near_duplicate_groups: Vec<Group>,
    /// Duplicate groups (exact or near) spanning splits.
    pub leaks: Vec<Group>,
    /// Class balance.
    pub imbalance: Imbalance,
    /// Near-duplicate radius used.
    pub near_radius: u32,
    /// Semantic near duplicates and outliers, when embeddings were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantic: Option<SemanticReport>,
    /// Agreement among several annotators' labels, when a label file was given
    /// ([`label_agreement`]; set by the caller after [`audit`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_agreement: Option<label_agreement::LabelAgreement>,
    /// One row per image.
    pub rows: Vec<ImageRow>,
}

/// What each image contributes before the dataset-level checks.
struct Measured {
    path: String,
    split: Option<SplitName>,
    label: String,
    size: (u32, u32),
    result: Result<(Health, [u8; 32], u64), BadReason>,
    /// SHA-256 (hex) of the file's bytes, for images read from files.
    file_sha256: Option<String>,
}

fn measure_pixels(px: &[u8], w: usize, h: usize, c: usize) -> (Health, [u8; 32], u64) {
    let mut hasher = Sha256::new();
    hasher.update((w as u64).to_le_bytes());
    hasher.update((h as u64).to_le_bytes());
    hasher.update((c as u64).to_le_bytes());
    hasher.update(px);
    let key: [u8; 32] = hasher.finalize().into();
    let gray = health::gray(px, c);
    (health::measure(px, w, h, c), key, phash::phash(&gray, w, h))
}

fn measure_files(items: &[FileItem], max_pixels: u64) -> Vec<Measured> {
    items
        .par_iter()
        .map(|item| {
            let bytes = augtrain_data::util::fs::read_regular(&item.path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    BadReason::Missing
                } else {
                    BadReason::Unreadable(e.to_string())
                }
            });
            let file_sha256 = bytes
                .as_ref()
                .ok()
                .map(|b| augtrain_data::files::sha256_hex(b));
            let result = bytes.and_then(|bytes| decode_full(&bytes, max_pixels));
            match result {
                Ok((img, _, _)) => {
                    let (w, h) = (img.width() as usize, img.height() as usize);
                    let (px, c) = match img.color().channel_count() {
                        1 | 2 => (img.to_luma8().into_raw(), 1),
                        _ => (img.to_rgb8().into_raw(), 3),
                    };
                    Measured {
                        path: item.rel.clone(),
                        split: item.split,
                        label: item.label.clone(),
                        size: (w as u32, h as u32),
                        result: Ok(measure_pixels(&px, w, h, c)),
                        file_sha256,
                    }
                }
                Err(reason) => Measured {
                    path: item.rel.clone(),
                    split: item.split,
                    label: item.label.clone(),
                    size: (0, 0),
                    result: Err(reason),
                    file_sha256,
                },
            }
        })
        .collect()
}

/// Audit `source`: image files are read at their native size (up to `load.max_pixels`);
/// other sources are loaded with `load` (`seed` keys generated data).
pub fn audit(
    source: &DataSource,
    load: &LoadOptions,
    seed: u64,
    opts: &AuditOptions,
) -> Result<AuditReport, DataError> {
    let measured: Vec<Measured> = match source {
        DataSource::Folder(dir) => measure_files(&scan_folder(dir)?.0, load.max_pixels),
        DataSource::Manifest(path) => measure_files(&read_manifest(path)?.0, load.max_pixels),
        other => {
            let whole = load_whole(other, load, seed)?;
            let d = &whole.data;
            (0..d.len())
                .into_par_iter()
                .map(|i| Measured {
                    path: if d.paths[i].is_empty() {
                        format!("#{}", d.ids[i])
                    } else {
                        d.paths[i].clone()
                    },
                    split: whole.splits[i],
                    label: d.class_names[d.labels[i] as usize].clone(),
                    size: (d.shape.width as u32, d.shape.height as u32),
                    result: Ok(measure_pixels(
                        d.image(i),
                        d.shape.width,
                        d.shape.height,
                        d.shape.channels,
                    )),
                    file_sha256: None,
                })
                .collect()
        }
    };
    assemble(source.name(), measured, opts)
}

fn group(members: Vec<usize>, m: &[Measured]) -> Group {
    let mut splits: Vec<String> = members
        .iter()
        .map(|&i| {
            m[i].split
                .map(|s| s.to_string())
                .unwrap_or_else(|| "(unsplit)".into())
        })
        .collect();
    splits.sort();
    splits.dedup();
    Group {
        paths: members.iter().map(|&i| m[i].path.clone()).collect(),
        labels: members.iter().map(|&i| m[i].label.clone()).collect(),
        members,
        splits,
    }
}

fn assemble(name: String, m: Vec<Measured>, opts: &AuditOptions) -> Result<AuditReport, DataError> {
    let ok: Vec<usize> = (0..m.len()).filter(|&i| m[i].result.is_ok()).collect();
    let (semantic, findings) = match &opts.semantic {
        Some(input) => {
            let (report, rows) = semantic::analyse(input, &m, &ok)?;
            (Some(report), rows)
        }
        None => (None, Vec::new()),
    };
    let dups = Duplicates::find(&m, &ok, opts.near_radius);
    let exact_groups: Vec<Group> = dups.exact.iter().map(|g| group(g.clone(), &m)).collect();
    let conflicting: Vec<Group> = exact_groups
        .iter()
        .filter(|g| g.has_conflicting_labels())
        .cloned()
        .collect();
    let mut rows = image_rows(&m, &ok, &dups, &conflicting);
    for (row, f) in rows.iter_mut().zip(&findings) {
        row.semantic_duplicates_score = f.max_similarity.map(|s| (1.0 - s as f64).clamp(0.0, 1.0));
        row.is_semantic_duplicates_issue = f.group.is_some();
        row.semantic_duplicates_group = f.group;
        row.outlier_score = f.outlier_score;
        row.is_outlier_issue = f.is_outlier;
    }
    Ok(AuditReport {
        source: name,
        images: m.len(),
        issue_counts: issue_counts(&rows, semantic.is_some()),
        exact_duplicate_groups: exact_groups,
        conflicting_label_groups: conflicting,
        near_duplicate_groups: dups.near.iter().map(|g| group(g.clone(), &m)).collect(),
        imbalance: imbalance(&m, &ok),
        leaks: dups.leaks,
        near_radius: opts.near_radius,
        semantic,
        label_agreement: None,
        rows,
    })
}

/// The measurements of a usable image.
fn usable(m: &Measured) -> &(Health, [u8; 32], u64) {
    m.result.as_ref().expect("usable")
}

/// Duplicate groups among the usable images, as indices into the measured images.
struct Duplicates {
    /// Exact duplicates: equal pixel hashes.
    exact: Vec<Vec<usize>>,
    /// Near duplicates: pHash within the radius, between images that are not exact duplicates.
    near: Vec<Vec<usize>>,
    /// Per image, the smallest pHash distance to a near duplicate (`u32::MAX` when none).
    nearest: Vec<u32>,
    /// Groups joined by exact or near edges that span splits.
    leaks: Vec<Group>,
}

impl Duplicates {
    fn find(m: &[Measured], ok: &[usize], near_radius: u32) -> Self {
        let exact = exact_groups(m, ok);
        let (near, nearest) = near_groups(m, ok, near_radius);
        let mut both = UnionFind::new(m.len());
        for g in exact.iter().chain(near.iter()) {
            for w in g.windows(2) {
                both.union(w[0], w[1]);
            }
        }
        let leaks = both
            .groups()
            .into_iter()
            .map(|g| group(g, m))
            .filter(|g| g.splits.len() > 1)
            .collect();
        Self {
            exact,
            near,
            nearest,
            leaks,
        }
    }

    /// Per image, the index of the group of `groups` holding it.
    fn membership(groups: &[Vec<usize>], n: usize) -> Vec<Option<usize>> {
        let mut of = vec![None; n];
        for (k, g) in groups.iter().enumerate() {
            for &i in g {
                of[i] = Some(k);
            }
        }
        of
    }
}

/// Groups of usable images with equal pixel hashes.
fn exact_groups(m: &[Measured], ok: &[usize]) -> Vec<Vec<usize>> {
    let mut exact = UnionFind::new(m.len());
    let mut first_by_key: HashMap<[u8; 32], usize> = HashMap::new();
    for &i in ok {
        let key = usable(&m[i]).1;
        match first_by_key.get(&key) {
            Some(&j) => exact.union(i, j),
            None => {
                first_by_key.insert(key, i);
            }
        }
    }
    exact.groups()
}

/// Groups of usable images whose pHashes are within `radius` (multi-index hashing over the
/// usable images), between images that are not exact duplicates, and each image's distance to
/// its nearest such neighbour.
fn near_groups(m: &[Measured], ok: &[usize], radius: u32) -> (Vec<Vec<usize>>, Vec<u32>) {
    let n = m.len();
    let hashes: Vec<u64> = ok.iter().map(|&i| usable(&m[i]).2).collect();
    let index = MultiIndex::new(&hashes, radius.min(63));
    let found: Vec<Vec<(usize, u32)>> = (0..ok.len())
        .into_par_iter()
        .map_init(phash::Seen::default, |seen, a| index.neighbours(a, seen))
        .collect();
    let mut near = UnionFind::new(n);
    let mut nearest = vec![u32::MAX; n];
    for (a, list) in found.iter().enumerate() {
        let i = ok[a];
        for &(b, d) in list {
            let j = ok[b];
            if usable(&m[i]).1 != usable(&m[j]).1 {
                near.union(i, j);
                nearest[i] = nearest[i].min(d);
            }
        }
    }
    (near.groups(), nearest)
}

/// One row per measured image: every score and issue flag.
fn image_rows(
    m: &[Measured],
    ok: &[usize],
    dups: &Duplicates,
    conflicting: &[Group],
) -> Vec<ImageRow> {
    let n = m.len();
    let mut in_conflict = vec![false; n];
    for g in conflicting {
        for &i in &g.members {
            in_conflict[i] = true;
        }
    }
    let in_exact = Duplicates::membership(&dups.exact, n);
    let in_near = Duplicates::membership(&dups.near, n);
    let mut leaked = vec![false; n];
    for g in &dups.leaks {
        for &i in &g.members {
            leaked[i] = true;
        }
    }
    let sizes: Vec<f64> = ok.iter().map(|&i| usable(&m[i]).0.size).collect();
    let (size_scores, size_threshold) = if sizes.is_empty() {
        (Vec::new(), 0.5)
    } else {
        health::odd_size_scores(&sizes)
    };
    let mut size_score = vec![f64::NAN; n];
    for (k, &i) in ok.iter().enumerate() {
        size_score[i] = size_scores[k];
    }
    (0..n)
        .map(|i| {
            let mut row = health_row(i, &m[i], size_score[i], size_threshold);
            row.exact_duplicates_score = if in_exact[i].is_some() { 0.0 } else { 1.0 };
            row.is_exact_duplicates_issue = in_exact[i].is_some();
            row.exact_duplicates_group = in_exact[i];
            row.conflicting_labels_score = if in_conflict[i] { 0.0 } else { 1.0 };
            row.is_conflicting_labels_issue = in_conflict[i];
            row.near_duplicates_score = if dups.nearest[i] == u32::MAX {
                1.0
            } else {
                dups.nearest[i] as f64 / 64.0
            };
            row.is_near_duplicates_issue = in_near[i].is_some();
            row.near_duplicates_group = in_near[i];
            row.is_leak_issue = leaked[i];
            row
        })
        .collect()
}

/// Image `i`'s row with its own scores (corruption, health, size); the duplicate and leak
/// fields are left clear for [`image_rows`] to fill.
fn health_row(i: usize, e: &Measured, size_score: f64, size_threshold: f64) -> ImageRow {
    let (h, corrupt) = match &e.result {
        Ok((h, _, _)) => (h.clone(), None),
        Err(r) => (
            Health {
                dark_score: f64::NAN,
                light_score: f64::NAN,
                odd_aspect_ratio_score: f64::NAN,
                low_information_score: f64::NAN,
                blurry_score: f64::NAN,
                grayscale_score: f64::NAN,
                size: f64::NAN,
            },
            Some(r.to_string()),
        ),
    };
    let below = |s: f64, t: f64| s < t; // NaN compares false
    ImageRow {
        index: i,
        path: e.path.clone(),
        split: e.split,
        label: e.label.clone(),
        width: e.size.0,
        height: e.size.1,
        corrupt_score: if corrupt.is_some() { 0.0 } else { 1.0 },
        is_corrupt_issue: corrupt.is_some(),
        corrupt_reason: corrupt,
        exact_duplicates_score: 1.0,
        is_exact_duplicates_issue: false,
        exact_duplicates_group: None,
        conflicting_labels_score: 1.0,
        is_conflicting_labels_issue: false,
        near_duplicates_score: 1.0,
        is_near_duplicates_issue: false,
        near_duplicates_group: None,
        is_leak_issue: false,
        is_dark_issue: below(h.dark_score, health::DARK),
        dark_score: h.dark_score,
        is_light_issue: below(h.light_score, health::LIGHT),
        light_score: h.light_score,
        is_odd_aspect_ratio_issue: below(h.odd_aspect_ratio_score, health::ODD_ASPECT_RATIO),
        odd_aspect_ratio_score: h.odd_aspect_ratio_score,
        is_low_information_issue: below(h.low_information_score, health::LOW_INFORMATION),
        low_information_score: h.low_information_score,
        is_blurry_issue: below(h.blurry_score, health::BLURRY),
        blurry_score: h.blurry_score,
        is_odd_size_issue: below(size_score, size_threshold),
        odd_size_score: size_score,
        is_grayscale_issue: below(h.grayscale_score, 0.5),
        grayscale_score: h.grayscale_score,
        semantic_duplicates_score: None,
        is_semantic_duplicates_issue: false,
        semantic_duplicates_group: None,
        outlier_score: None,
        is_outlier_issue: false,
    }
}

/// Whether an image row has one issue.
type IssueFlag = fn(&ImageRow) -> bool;

/// Images with each issue.
fn issue_counts(rows: &[ImageRow], semantic: bool) -> BTreeMap<String, usize> {
    let flags: [(&str, IssueFlag); 14] = [
        ("corrupt", |r| r.is_corrupt_issue),
        ("exact_duplicates", |r| r.is_exact_duplicates_issue),
        ("near_duplicates", |r| r.is_near_duplicates_issue),
        ("conflicting_labels", |r| r.is_conflicting_labels_issue),
        ("leak", |r| r.is_leak_issue),
        ("dark", |r| r.is_dark_issue),
        ("light", |r| r.is_light_issue),
        ("odd_aspect_ratio", |r| r.is_odd_aspect_ratio_issue),
        ("low_information", |r| r.is_low_information_issue),
        ("blurry", |r| r.is_blurry_issue),
        ("odd_size", |r| r.is_odd_size_issue),
        ("grayscale", |r| r.is_grayscale_issue),
        ("semantic_duplicates", |r| r.is_semantic_duplicates_issue),
        ("outlier", |r| r.is_outlier_issue),
    ];
    let embedding_issue = |name: &str| name == "semantic_duplicates" || name == "outlier";
    flags
        .iter()
        .filter(|(name, _)| semantic || !embedding_issue(name))
        .map(|(name, f)| (name.to_string(), rows.iter().filter(|r| f(r)).count()))
        .collect()
}

/// Class balance of the usable images: the rarest class's share against `0.1 / K`.
fn imbalance(m: &[Measured], ok: &[usize]) -> Imbalance {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for &i in ok {
        *counts.entry(m[i].label.clone()).or_default() += 1;
    }
    let total: usize = counts.values().sum();
    let k = counts.len().max(1);
    let rarest = counts.values().copied().min().unwrap_or(0);
    let rarest_share = if total == 0 {
        0.0
    } else {
        rarest as f64 / total as f64
    };
    let threshold = 0.1 / k as f64;
    Imbalance {
        counts,
        rarest_share,
        threshold,
        is_issue: rarest_share < threshold,
    }
}

impl AuditReport {
    /// A text summary: counts per issue, groups, class balance, and up to `list` flagged
    /// images per issue.
    pub fn summary(&self, list: usize) -> String {
        let mut out = format!(
            "audit of {}: {} images\n\n",
            escape(&self.source),
            self.images
        );
        self.push_counts(&mut out);
        self.push_balance(&mut out);
        self.push_flagged(&mut out, "corrupt", |r| r.is_corrupt_issue, list);
        self.push_groups(&mut out, list);
        for (title, flag) in [
            ("dark", (|r| r.is_dark_issue) as IssueFlag),
            ("light", |r| r.is_light_issue),
            ("odd aspect ratio", |r| r.is_odd_aspect_ratio_issue),
            ("low information", |r| r.is_low_information_issue),
            ("blurry", |r| r.is_blurry_issue),
            ("odd size", |r| r.is_odd_size_issue),
            ("grayscale stored as colour", |r| r.is_grayscale_issue),
            ("exact duplicates", |r| r.is_exact_duplicates_issue),
            ("near duplicates", |r| r.is_near_duplicates_issue),
        ] {
            self.push_flagged(&mut out, title, flag, list);
        }
        if let Some(s) = &self.semantic {
            out.push_str(&s.summary(&self.rows, list));
        }
        if let Some(a) = &self.label_agreement {
            out.push_str(&a.summary(list));
        }
        out
    }

    /// One line per issue: how many images, and in how many groups where issues come in groups.
    fn push_counts(&self, out: &mut String) {
        let groups = |name: &str| match name {
            "exact_duplicates" => format!(" in {} groups", self.exact_duplicate_groups.len()),
            "conflicting_labels" => format!(
                " in {} exact-duplicate groups with different labels",
                self.conflicting_label_groups.len()
            ),
            "near_duplicates" => format!(
                " in {} groups (pHash radius {})",
                self.near_duplicate_groups.len(),
                self.near_radius
            ),
            "leak" => format!(" in {} groups spanning splits", self.leaks.len()),
            _ => String::new(),
        };
        // The widest name and count set the columns (issue names come and go with the checks).
        let name_width = self.issue_counts.keys().map(|k| k.len()).max().unwrap_or(0);
        let count_width = self
            .issue_counts
            .values()
            .map(|n| n.to_string().len())
            .max()
            .unwrap_or(0)
            .max(6);
        for (issue, n) in &self.issue_counts {
            out.push_str(&format!(
                "  {:<name_width$} {:>count_width$}{}\n",
                issue.replace('_', " "),
                n,
                if *n > 0 { groups(issue) } else { String::new() }
            ));
        }
    }

    /// Images per class and the rarest class's share against the threshold.
    fn push_balance(&self, out: &mut String) {
        let imb = &self.imbalance;
        out.push_str(&format!(
            "\nclasses: {}\nrarest class share {:.4} (issue below {:.4}): {}\n",
            imb.counts
                .iter()
                .map(|(k, v)| format!("{} {v}", escape(k)))
                .collect::<Vec<_>>()
                .join(", "),
            imb.rarest_share,
            imb.threshold,
            if imb.is_issue { "IMBALANCED" } else { "ok" }
        ));
    }

    /// Up to `list` images with the issue `flag`, under `title`.
    fn push_flagged(
        &self,
        out: &mut String,
        title: &str,
        flag: fn(&ImageRow) -> bool,
        list: usize,
    ) {
        let flagged: Vec<&ImageRow> = self.rows.iter().filter(|r| flag(r)).collect();
        if flagged.is_empty() {
            return;
        }
        out.push_str(&format!("\n{title}:\n"));
        for r in flagged.iter().take(list) {
            let reason = r
                .corrupt_reason
                .as_ref()
                .map(|c| format!(": {}", escape(c)));
            out.push_str(&format!(
                "  {}{}\n",
                escape(&r.path),
                reason.unwrap_or_default()
            ));
        }
        if flagged.len() > list {
            out.push_str(&format!(
                "  ... and {} more (see the JSON report)\n",
                flagged.len() - list
            ));
        }
    }

    /// Up to `list` groups of exact duplicates with different labels, then of leaks.
    fn push_groups(&self, out: &mut String, list: usize) {
        for g in self.conflicting_label_groups.iter().take(list) {
            let members: Vec<String> = g
                .paths
                .iter()
                .zip(&g.labels)
                .map(|(p, l)| format!("{} ({})", escape(p), escape(l)))
                .collect();
            out.push_str(&format!(
                "\nsame pixels, different labels: {}\n",
                members.join(", ")
            ));
        }
        if self.conflicting_label_groups.len() > list {
            out.push_str(&format!(
                "  ... and {} more groups with conflicting labels (see the JSON report)\n",
                self.conflicting_label_groups.len() - list
            ));
        }
        for g in self.leaks.iter().take(list) {
            let paths: Vec<String> = g.paths.iter().map(|p| escape(p).into_owned()).collect();
            out.push_str(&format!(
                "\nleak across {}: {}\n",
                g.splits.join(" / "),
                paths.join(", ")
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: u32) -> image::RgbImage {
        image::RgbImage::from_fn(24, 24, |x, y| {
            let v = (x * 37 + y * 91 + seed * 53).wrapping_mul(2_654_435_761) >> 24;
            image::Rgb([v as u8, (v * 3) as u8, (v * 7) as u8])
        })
    }

    /// The counts are a table: every count ends in the same column, whatever the longest
    /// issue name (`semantic duplicates` is 19 characters; the column was 18 wide).
    #[test]
    fn the_summary_counts_line_up_in_one_column() {
        let dir = std::env::temp_dir().join(format!("augtrain-audit-align-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("ants")).unwrap();
        noise(1).save(dir.join("ants/a1.png")).unwrap();
        noise(2).save(dir.join("ants/a2.png")).unwrap();
        let mut report = audit(
            &DataSource::Folder(dir.clone()),
            &LoadOptions::default(),
            1,
            &AuditOptions::default(),
        )
        .unwrap();
        report
            .issue_counts
            .insert("semantic_duplicates".into(), 12345);
        report.issue_counts.insert("outlier".into(), 7);
        let text = report.summary(10);
        let ends: Vec<usize> = text
            .lines()
            .skip(2)
            .take_while(|l| !l.is_empty())
            .map(|l| {
                let digits = l.rfind(|c: char| c.is_ascii_digit()).unwrap();
                // The count is the first number on the line.
                let first = l.find(|c: char| c.is_ascii_digit()).unwrap_or(digits);
                first
                    + l[first..]
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(l.len() - first)
            })
            .collect();
        assert!(ends.len() >= 10, "{text}");
        assert!(ends.windows(2).all(|w| w[0] == w[1]), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A planted pair: the same pixels filed as an ant and as a bee. Before conflicting labels
    /// were checked, the pair was reported only as an ordinary exact duplicate.
    #[test]
    fn exact_duplicates_with_different_labels_are_flagged() {
        let dir =
            std::env::temp_dir().join(format!("augtrain-audit-conflict-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for class in ["ants", "bees"] {
            std::fs::create_dir_all(dir.join(class)).unwrap();
        }
        noise(1).save(dir.join("ants/a1.png")).unwrap();
        noise(1).save(dir.join("bees/b1-same-as-a1.png")).unwrap();
        noise(2).save(dir.join("ants/a2.png")).unwrap();
        noise(2).save(dir.join("ants/a2-copy.png")).unwrap();
        noise(3).save(dir.join("bees/b3.png")).unwrap();
        let report = audit(
            &DataSource::Folder(dir.clone()),
            &LoadOptions::default(),
            1,
            &AuditOptions::default(),
        )
        .unwrap();
        let flagged: Vec<&str> = report
            .rows
            .iter()
            .filter(|r| r.is_conflicting_labels_issue)
            .map(|r| r.path.as_str())
            .collect();
        assert_eq!(flagged, vec!["ants/a1.png", "bees/b1-same-as-a1.png"]);
        assert_eq!(report.issue_counts["conflicting_labels"], 2);
        assert_eq!(report.issue_counts["exact_duplicates"], 4);
        assert_eq!(report.conflicting_label_groups.len(), 1);
        assert_eq!(
            report.conflicting_label_groups[0].labels,
            vec!["ants", "bees"]
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["rows"][0]["conflicting_labels_score"], 0.0);
        let text = report.summary(10);
        assert!(
            text.contains(
                "same pixels, different labels: ants/a1.png (ants), bees/b1-same-as-a1.png (bees)"
            ),
            "{text}"
        );
        assert!(text.contains("conflicting labels"), "{text}");
    }
}
