//! Which split every image of a training run belongs to, recorded by path and content
//! (`splits.csv` in the run directory), and applied to the data again: a resumed run trains on
//! the splits it started with, and `eval` of other data leaves out what the run trained on.
//!
//! An image's key is its path relative to the dataset root (path text), or `#<id>` for data
//! without paths (the built-in synthetic set); its content hash is the SHA-256 of its pixels
//! as loaded (`u8` HWC, after the width, height and channels as three little-endian `u32`), so
//! it survives a re-encode that changes no pixel and catches an edit that changes one.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::files::{SplitName, hex};
use crate::source::{Splits, Whole};
use crate::util::escape::escape;
use crate::{DataError, Dataset};

/// One image of a run's splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its path (path text), or `#<id>` when the data has no paths.
    pub key: String,
    /// Its split.
    pub split: SplitName,
    /// Its class name.
    pub label: String,
    /// SHA-256 of its pixels as loaded (lowercase hex), see the module docs.
    pub sha256: String,
}

/// The columns of `splits.csv`.
const HEADER: [&str; 4] = ["path", "split", "label", "sha256"];

/// The key of image `i` of `ds`: its path, or `#<id>` without one.
fn key(ds: &Dataset, i: usize) -> String {
    if ds.paths[i].is_empty() {
        format!("#{}", ds.ids[i])
    } else {
        ds.paths[i].clone()
    }
}

/// The content hash of every image of `ds` (see the module docs), in parallel.
pub fn content_hashes(ds: &Dataset) -> Vec<String> {
    let s = ds.shape;
    let mut dims = Vec::with_capacity(12);
    for v in [s.width, s.height, s.channels] {
        dims.extend_from_slice(&(v as u32).to_le_bytes());
    }
    (0..ds.len())
        .into_par_iter()
        .map(|i| {
            let mut h = Sha256::new();
            h.update(&dims);
            h.update(ds.image(i));
            hex(&h.finalize())
        })
        .collect()
}

/// Every image of `splits`, train then val then test, with its key, class and content hash.
pub fn record(splits: &Splits) -> Vec<Member> {
    let mut out = Vec::with_capacity(splits.train.len() + splits.val.len() + splits.test.len());
    for (split, ds) in [
        (SplitName::Train, &splits.train),
        (SplitName::Val, &splits.val),
        (SplitName::Test, &splits.test),
    ] {
        for (i, sha256) in content_hashes(ds).into_iter().enumerate() {
            out.push(Member {
                key: key(ds, i),
                split,
                label: ds.class_names[ds.labels[i] as usize].clone(),
                sha256,
            });
        }
    }
    out
}

/// `splits.csv` text: `path,split,label,sha256`, one row per image.
pub fn to_csv(members: &[Member]) -> String {
    let mut out = crate::csv::Writer::new(HEADER);
    for m in members {
        out.row([
            m.key.as_str(),
            m.split.as_str(),
            m.label.as_str(),
            m.sha256.as_str(),
        ]);
    }
    out.finish_string()
}

/// Parse `splits.csv` text (see [`to_csv`]); `path` names the file in errors.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Member>, DataError> {
    let table = crate::csv::Table::parse(path, text.as_bytes())?;
    if table.header().iter().map(|h| h.trim()).ne(HEADER) {
        return Err(table.file_error(format!(
            "not a run's split record: the header must be {}",
            HEADER.join(",")
        )));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Member> = Vec::with_capacity(table.rows().len());
    for row in table.rows() {
        let f = &row.fields;
        let split = SplitName::parse(&f[1])
            .ok_or_else(|| table.error(row, format!("unknown split '{}'", escape(&f[1]))))?;
        let sha = &f[3];
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(table.error(row, "the sha256 field is not 64 hex digits"));
        }
        let member = Member {
            key: f[0].clone(),
            split,
            label: f[2].clone(),
            sha256: sha.to_ascii_lowercase(),
        };
        let again = seen.insert(f[0].clone(), out.len());
        if f[0].is_empty() || again.is_some_and(|first| !val_also_test(&out[first], &member)) {
            return Err(table.error(
                row,
                format!(
                    "path '{}' empty or listed twice (an image is listed once, or twice as val then test when the val split is also the test split)",
                    escape(&f[0])
                ),
            ));
        }
        out.push(member);
    }
    Ok(out)
}

/// Whether `second` is the test row of an image `first` lists as a validation image: the record
/// of a source without a test split, whose val split is also its test split (see
/// [`crate::source`]).
fn val_also_test(first: &Member, second: &Member) -> bool {
    first.split == SplitName::Val
        && second.split == SplitName::Test
        && first.label == second.label
        && first.sha256 == second.sha256
}

/// How the data differs from a run's recorded splits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Recorded images whose pixels differ now.
    pub changed: Vec<String>,
    /// Recorded images with another class now.
    pub relabelled: Vec<String>,
    /// Recorded images no longer in the data (removed, renamed, or now unusable).
    pub gone: Vec<String>,
    /// Images of the data the record does not list.
    pub new: Vec<String>,
    /// New images with the content of a recorded validation or test image (`new`, `recorded`).
    pub copies_of_held_out: Vec<(String, String)>,
}

impl Changes {
    /// Whether the data is exactly what was recorded.
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// Whether the only difference is new images that copy nothing held out.
    pub fn only_new(&self) -> bool {
        self.changed.is_empty()
            && self.relabelled.is_empty()
            && self.gone.is_empty()
            && self.copies_of_held_out.is_empty()
    }

    /// The differences in one clause, e.g. "2 changed ('a.png', 'b.png'), 1 new ('c.png')".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (what, list) in [
            ("changed", &self.changed),
            ("with another class", &self.relabelled),
            ("gone (removed, renamed or unusable)", &self.gone),
            ("new", &self.new),
        ] {
            if !list.is_empty() {
                parts.push(format!("{} {what} ({})", list.len(), preview(list)));
            }
        }
        if let Some((new, old)) = self.copies_of_held_out.first() {
            parts.push(format!(
                "{} new with the pixels of a validation or test image (e.g. '{}' = '{}')",
                self.copies_of_held_out.len(),
                escape(new),
                escape(old)
            ));
        }
        parts.join(", ")
    }
}

/// The first three items of a list, quoted, with a count of the rest.
fn preview(items: &[String]) -> String {
    let mut shown: Vec<String> = items
        .iter()
        .take(3)
        .map(|s| format!("'{}'", escape(s)))
        .collect();
    if items.len() > 3 {
        shown.push(format!("and {} more", items.len() - 3));
    }
    shown.join(", ")
}

/// Compare `data` with the recorded splits; the split of each image of `data` that is in the
/// record unchanged (`None` for the rest), and the changes.
pub fn compare(data: &Dataset, recorded: &[Member]) -> (Vec<Option<SplitName>>, Changes) {
    let hashes = content_hashes(data);
    let mut index: HashMap<String, usize> = HashMap::with_capacity(data.len());
    for i in 0..data.len() {
        index.insert(key(data, i), i);
    }
    let held_out: HashMap<&str, &str> = recorded
        .iter()
        .filter(|m| m.split != SplitName::Train)
        .map(|m| (m.sha256.as_str(), m.key.as_str()))
        .collect();
    let mut splits = vec![None; data.len()];
    let mut listed = vec![false; data.len()];
    let mut changes = Changes::default();
    for m in recorded {
        let Some(&i) = index.get(&m.key) else {
            if m.split != SplitName::Test || !changes.gone.contains(&m.key) {
                changes.gone.push(m.key.clone());
            }
            continue;
        };
        if listed[i] {
            // The test row of a validation image: its split stays val (see `reapply`).
            continue;
        }
        listed[i] = true;
        if data.class_names[data.labels[i] as usize] != m.label {
            changes.relabelled.push(m.key.clone());
        } else if hashes[i] != m.sha256 {
            changes.changed.push(m.key.clone());
        } else {
            splits[i] = Some(m.split);
        }
    }
    for i in (0..data.len()).filter(|&i| !listed[i]) {
        changes.new.push(key(data, i));
        if let Some(old) = held_out.get(hashes[i].as_str()) {
            changes
                .copies_of_held_out
                .push((key(data, i), old.to_string()));
        }
    }
    (splits, changes)
}

/// The splits of a resumed run: `whole` split as `recorded` says, by key and content. Any
/// change is an error naming it, except new images, which join the training split when
/// `new_images_train` (and are an error otherwise, as are new images with the pixels of a
/// validation or test image, and a class list other than `classes`, the run's). The
/// provenance is the run's own (`provenance`), with the new images said.
pub fn reapply(
    name: String,
    whole: Whole,
    recorded: &[Member],
    classes: &[String],
    provenance: &str,
    new_images_train: bool,
) -> Result<Splits, DataError> {
    let data = &whole.data;
    if data.class_names != classes {
        return Err(DataError::Invalid(format!(
            "the data's classes are now {} but the run was trained on {}; resume with the data as it was, or start a new run",
            escape(&data.class_names.join(", ")),
            escape(&classes.join(", "))
        )));
    }
    let (mut splits, changes) = compare(data, recorded);
    let refuse = !changes.only_new() || (!changes.new.is_empty() && !new_images_train);
    if refuse {
        let advice = if changes.only_new() {
            "pass --allow-new-train-images to add them to the training split, or start a new run"
        } else {
            "restore the data as it was, or start a new run"
        };
        return Err(DataError::Invalid(format!(
            "the data differs from the splits the run recorded: {}; {advice}",
            changes.describe()
        )));
    }
    for s in splits.iter_mut().filter(|s| s.is_none()) {
        *s = Some(SplitName::Train);
    }
    let of = |want: SplitName| -> Vec<usize> {
        (0..data.len())
            .filter(|&i| splits[i] == Some(want))
            .collect()
    };
    // The test split: every image recorded as a test image, including validation images
    // recorded as test images too (a source whose val split is also its test split).
    let test_keys: HashSet<&str> = recorded
        .iter()
        .filter(|m| m.split == SplitName::Test)
        .map(|m| m.key.as_str())
        .collect();
    let test: Vec<usize> = (0..data.len())
        .filter(|&i| splits[i].is_some() && test_keys.contains(key(data, i).as_str()))
        .collect();
    let (train, val) = (of(SplitName::Train), of(SplitName::Val));
    let mut provenance = provenance.to_string();
    if !changes.new.is_empty() {
        provenance.push_str(&format!(
            "; {} new image(s) added to the training split on resume",
            changes.new.len()
        ));
    }
    Ok(Splits {
        name,
        train: data.subset(&train),
        val: data.subset(&val),
        test: data.subset(&test),
        provenance,
        report: whole.report,
    })
}

/// For each image of `data`, the split of the run's recorded training or validation image
/// with the same pixels (`None` for an image the run did not learn from: new, or one of its
/// test images).
pub fn seen_in_training(data: &Dataset, recorded: &[Member]) -> Vec<Option<SplitName>> {
    let seen: HashMap<&str, SplitName> = recorded
        .iter()
        .filter(|m| m.split != SplitName::Test)
        .map(|m| (m.sha256.as_str(), m.split))
        .collect();
    content_hashes(data)
        .iter()
        .map(|h| seen.get(h.as_str()).copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageShape;
    use crate::files::LoadReport;

    /// One-pixel gray images with these paths, pixel values and classes (a, b).
    fn data(items: &[(&str, u8, u32)]) -> Dataset {
        Dataset::from_pixels(
            ImageShape::new(1, 1, 1),
            vec!["a".into(), "b".into()],
            items.iter().map(|t| t.1).collect(),
            items.iter().map(|t| t.2).collect(),
            (0..items.len() as u64).collect(),
            items.iter().map(|t| t.0.to_string()).collect(),
        )
    }

    fn whole(ds: Dataset) -> Whole {
        Whole {
            splits: vec![None; ds.len()],
            data: ds,
            report: LoadReport::default(),
            split_origin: None,
        }
    }

    const ITEMS: [(&str, u8, u32); 6] = [
        ("a/0", 10, 0),
        ("a/1", 11, 0),
        ("a/2", 12, 0),
        ("b/0", 20, 1),
        ("b/1", 21, 1),
        ("b/2", 22, 1),
    ];

    fn recorded() -> Vec<Member> {
        let ds = data(&ITEMS);
        let splits = Splits {
            name: "x".into(),
            train: ds.subset(&[0, 3]),
            val: ds.subset(&[1, 4]),
            test: ds.subset(&[2, 5]),
            provenance: String::new(),
            report: LoadReport::default(),
        };
        let members = record(&splits);
        let text = to_csv(&members);
        assert_eq!(parse(Path::new("splits.csv"), &text).unwrap(), members);
        members
    }

    fn classes() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn the_recorded_splits_come_back_whatever_the_order_of_the_data() {
        let mut items = ITEMS.to_vec();
        items.reverse();
        let s = reapply(
            "x".into(),
            whole(data(&items)),
            &recorded(),
            &classes(),
            "p",
            false,
        )
        .unwrap();
        assert_eq!(s.train.paths, ["b/0", "a/0"]);
        assert_eq!(s.val.paths, ["b/1", "a/1"]);
        assert_eq!(s.test.paths, ["b/2", "a/2"]);
    }

    #[test]
    fn changed_gone_relabelled_and_new_images_are_named() {
        let mut items = ITEMS.to_vec();
        items[0].1 = 99; // a/0 changed
        items[1].2 = 1; // a/1 now a b
        items.remove(5); // b/2 gone
        items.push(("b/new", 30, 1));
        let e = reapply(
            "x".into(),
            whole(data(&items)),
            &recorded(),
            &classes(),
            "p",
            true,
        )
        .unwrap_err()
        .to_string();
        for part in [
            "1 changed ('a/0')",
            "1 with another class ('a/1')",
            "1 gone",
            "'b/2'",
            "1 new ('b/new')",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn new_images_join_training_only_when_asked_and_never_as_copies_of_test_images() {
        let mut items = ITEMS.to_vec();
        items.push(("a/new", 40, 0));
        let e = reapply(
            "x".into(),
            whole(data(&items)),
            &recorded(),
            &classes(),
            "p",
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--allow-new-train-images"), "{e}");
        let s = reapply(
            "x".into(),
            whole(data(&items)),
            &recorded(),
            &classes(),
            "p",
            true,
        )
        .unwrap();
        assert_eq!(s.train.paths, ["a/0", "b/0", "a/new"]);
        assert_eq!(s.test.len(), 2);
        assert!(s.provenance.contains("1 new image(s)"), "{}", s.provenance);
        // A new file with the pixels of test image a/2 would leak it into training.
        items.push(("a/copy", 12, 0));
        let e = reapply(
            "x".into(),
            whole(data(&items)),
            &recorded(),
            &classes(),
            "p",
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'a/copy' = 'a/2'"), "{e}");
    }

    #[test]
    fn images_seen_in_training_are_found_by_pixels_under_any_name() {
        let other = data(&[
            ("x/test-copy", 12, 0),
            ("x/train-copy", 20, 1),
            ("x/val-copy", 11, 1),
            ("x/new", 77, 0),
        ]);
        assert_eq!(
            seen_in_training(&other, &recorded()),
            [None, Some(SplitName::Train), Some(SplitName::Val), None]
        );
    }

    /// The record of a folder with train/ and val/ but no test/: its val split is also its
    /// test split, so each val image is listed twice (val, then test).
    fn recorded_val_also_test() -> Vec<Member> {
        let ds = data(&ITEMS);
        let splits = Splits {
            name: "x".into(),
            train: ds.subset(&[0, 1, 3, 4]),
            val: ds.subset(&[2, 5]),
            test: ds.subset(&[2, 5]),
            provenance: String::new(),
            report: LoadReport::default(),
        };
        record(&splits)
    }

    #[test]
    fn a_val_split_that_is_also_the_test_split_is_read_back_and_reapplied() {
        let members = recorded_val_also_test();
        assert_eq!(members.len(), 8);
        let text = to_csv(&members);
        assert_eq!(parse(Path::new("splits.csv"), &text).unwrap(), members);
        let s = reapply(
            "x".into(),
            whole(data(&ITEMS)),
            &members,
            &classes(),
            "p",
            false,
        )
        .unwrap();
        assert_eq!(s.train.paths, ["a/0", "a/1", "b/0", "b/1"]);
        assert_eq!(s.val.paths, ["a/2", "b/2"]);
        assert_eq!(s.test.paths, ["a/2", "b/2"]);
        // A gone image is named once, not once per row.
        let e = reapply(
            "x".into(),
            whole(data(&ITEMS[..5])),
            &members,
            &classes(),
            "p",
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("1 gone (removed, renamed or unusable) ('b/2')"),
            "{e}"
        );
    }

    #[test]
    fn a_path_listed_twice_otherwise_is_refused() {
        let members = recorded_val_also_test();
        let text = to_csv(&members);
        let header = "path,split,label,sha256\n";
        let val_row = text.lines().find(|l| l.starts_with("a/2,val,")).unwrap();
        let sha = val_row.rsplit(',').next().unwrap();
        for second in [
            format!("a/2,train,a,{sha}"),
            format!("a/2,val,a,{sha}"),
            format!("a/2,test,b,{sha}"),
            format!("a/2,test,a,{}", "0".repeat(64)),
        ] {
            let text = format!("{header}{val_row}\n{second}\n");
            let e = parse(Path::new("splits.csv"), &text)
                .unwrap_err()
                .to_string();
            assert!(e.contains("listed twice"), "{second}: {e}");
        }
        // Test then val is not the order a record writes either.
        let text = format!("{header}a/2,test,a,{sha}\n{val_row}\n");
        assert!(parse(Path::new("splits.csv"), &text).is_err());
    }

    #[test]
    fn another_class_list_is_refused() {
        let e = reapply(
            "x".into(),
            whole(data(&ITEMS)),
            &recorded(),
            &["a".into(), "c".into()],
            "p",
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("trained on a, c"), "{e}");
    }
}
