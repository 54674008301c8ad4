//! An audit with embeddings checks that every image is the one that was embedded (issue 27,
//! item 5): `index.csv` records each file's SHA-256, and a changed image is named.

use std::path::{Path, PathBuf};

use augtrain_data::LoadOptions;
use augtrain_data::source::DataSource;
use augtrain_quality::audit::semantic::{SemanticInput, SemanticOptions};
use augtrain_quality::audit::{AuditOptions, audit};
use augtrain_quality::embedding::{EmbedInfo, Embedded, EmbeddingSet, IndexRow};
use sha2::{Digest, Sha256};

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("augtrain-stale-emb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A folder of two classes, two distinct 8×8 PNGs each.
fn folder(root: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (c, class) in ["a", "b"].iter().enumerate() {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for k in 0..2u8 {
            let img = image::RgbImage::from_fn(8, 8, |x, y| {
                image::Rgb([x as u8 * 30 + k * 7, y as u8 * 30, c as u8 * 100 + k])
            });
            let rel = format!("{class}/{k}.png");
            img.save(root.join(&rel)).unwrap();
            files.push((rel, class.to_string()));
        }
    }
    files
}

fn sha_of(path: &Path) -> String {
    augtrain_data::files::hex(&Sha256::digest(std::fs::read(path).unwrap()))
}

fn embedded(root: &Path, files: &[(String, String)], hashes: bool) -> Embedded {
    let mut set = EmbeddingSet {
        dim: 2,
        values: vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9],
    };
    set.normalize_rows().unwrap();
    let index = files
        .iter()
        .map(|(rel, label)| IndexRow {
            path: rel.clone(),
            label: label.clone(),
            split: None,
            sha256: hashes.then(|| sha_of(&root.join(rel))),
        })
        .collect();
    Embedded {
        set,
        index,
        info: EmbedInfo::default(),
    }
}

fn run(root: &Path, e: Embedded) -> Result<(), String> {
    let opts = AuditOptions {
        semantic: Some(SemanticInput {
            embedded: e,
            opts: SemanticOptions {
                neighbors: 2,
                ..SemanticOptions::default()
            },
        }),
        ..AuditOptions::default()
    };
    audit(
        &DataSource::Folder(root.to_path_buf()),
        &LoadOptions::default(),
        0,
        &opts,
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[test]
fn an_image_changed_since_embedding_is_named_and_refused() {
    let root = scratch("changed");
    let files = folder(&root);
    let e = embedded(&root, &files, true);
    // Written and read back through index.csv, as audit --embeddings does.
    let dir = root.with_extension("emb");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in e.files() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let back = Embedded::read(&dir).unwrap();
    run(&root, back.clone()).unwrap();
    // b/1.png is replaced by another picture under the same name.
    std::fs::copy(root.join("a/0.png"), root.join("b/1.png")).unwrap();
    let err = run(&root, back).unwrap_err();
    assert!(
        err.contains("1 of 4 images changed since their embeddings were computed (e.g. 'b/1.png')"),
        "{err}"
    );
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_index_without_hashes_is_refused_for_an_audit_of_files() {
    let root = scratch("nohash");
    let files = folder(&root);
    let err = run(&root, embedded(&root, &files, false)).unwrap_err();
    assert!(err.contains("index.csv has no sha256 column"), "{err}");
    std::fs::remove_dir_all(&root).unwrap();
}
