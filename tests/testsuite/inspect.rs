//! `augtrain inspect`: counts of a real image folder, bad files per file, manifests with
//! missing files and unknown labels.

use crate::support::*;

#[test]
fn inspect_real_image_folder() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let v = stdout_json(&augtrain(&["inspect", hym.to_str().unwrap(), "--json"]));
    assert_eq!(v["images"], 398);
    assert_eq!(v["classes"], serde_json::json!(["ants", "bees"]));
    assert_eq!(v["counts"]["train"], serde_json::json!([124, 121]));
    assert_eq!(v["counts"]["val"], serde_json::json!([70, 83]));
    assert_eq!(
        v["skipped"].as_array().unwrap().len(),
        0,
        "every real photo loads, the name with a space too"
    );
    assert!(v["formats"]["jpeg"].as_u64().unwrap() >= 390);
    let text = ok(&augtrain(&["inspect", hym.to_str().unwrap()]));
    assert!(
        text.contains("image sizes") && text.contains("median"),
        "{text}"
    );
}

#[test]
fn bad_files_are_reported_per_file_and_skipped_or_fatal() {
    let root = scratch("bad-files");
    let ds = root.join("ds");
    if real_folder(&ds, &["cats", "dogs"], 8).is_none() {
        return;
    }
    let good = std::fs::read(ds.join("cats/cats-0.jpg")).unwrap();
    std::fs::write(ds.join("cats/zero.jpg"), []).unwrap();
    std::fs::write(ds.join("cats/notes.txt"), "not an image").unwrap();
    std::fs::write(ds.join("dogs/truncated.jpg"), &good[..good.len() / 3]).unwrap();
    std::fs::write(ds.join("dogs/bomb.png"), bomb_png(60_000, 60_000)).unwrap();
    std::fs::write(ds.join(".hidden"), "ignored").unwrap();
    let v = stdout_json(&augtrain(&["inspect", ds.to_str().unwrap(), "--json"]));
    let skipped: Vec<(String, String)> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["reason"]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason = |p: &str| {
        skipped
            .iter()
            .find(|(f, _)| f == p)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{p} not reported: {skipped:?}"))
    };
    assert_eq!(reason("cats/zero.jpg"), "zero_bytes");
    assert_eq!(reason("cats/notes.txt"), "not_an_image");
    assert!(["truncated", "corrupt"].contains(&reason("dogs/truncated.jpg").as_str()));
    assert_eq!(reason("dogs/bomb.png"), "too_large");
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert_eq!(v["images"], 16);

    // --on-error fail: exit 1, one line naming the file, nothing written.
    let runs = root.join("runs-fail");
    let out = TrainArgs::new()
        .data(&ds)
        .set("--on-error", "fail")
        .model("mlp")
        .size("16x16")
        .runs_dir(&runs)
        .run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("zero.jpg")
            || stderr.contains("notes.txt")
            || stderr.contains("truncated.jpg")
            || stderr.contains("bomb.png"),
        "{stderr}"
    );
    assert!(!runs.exists());

    // Default (skip): trains and lists every skipped file in the run directory.
    let runs = root.join("runs");
    TrainArgs::new()
        .data(&ds)
        .model("mlp")
        .size("16x16")
        .epochs(1)
        .set("--test-fraction", "0.25")
        .runs_dir(&runs)
        .name("r")
        .quiet()
        .run_ok();
    let listed = std::fs::read_to_string(runs.join("r/skipped.csv")).unwrap();
    for f in ["zero.jpg", "notes.txt", "truncated.jpg", "bomb.png"] {
        assert!(
            listed.contains(f),
            "{f} missing from skipped.csv:\n{listed}"
        );
    }
}

#[test]
fn manifest_rows_with_missing_files_and_unknown_labels_are_reported() {
    let root = scratch("manifest");
    let ds = root.join("imgs");
    if real_folder(&ds, &["ants", "bees"], 5).is_none() {
        return;
    }
    let mut csv = String::from("path,label,split\n");
    for class in ["ants", "bees"] {
        for i in 0..5 {
            let split = if i < 3 { "train" } else { "test" };
            csv.push_str(&format!("imgs/{class}/{class}-{i}.jpg,{class},{split}\n"));
        }
    }
    csv.push_str("imgs/ants/missing.jpg,ants,train\n");
    csv.push_str("imgs/bees/bees-0.jpg,wasps,train\n");
    csv.push_str("\"imgs/ants/ants-1.jpg\",\"ants\",train\n");
    let manifest = root.join("manifest.csv");
    std::fs::write(&manifest, csv).unwrap();
    let v = stdout_json(&augtrain(&[
        "inspect",
        manifest.to_str().unwrap(),
        "--classes",
        "ants,bees",
        "--json",
    ]));
    let skipped = v["skipped"].as_array().unwrap();
    let kinds: Vec<&str> = skipped
        .iter()
        .map(|s| s["reason"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"missing") && kinds.contains(&"unknown_label"),
        "{skipped:?}"
    );
    assert_eq!(v["counts"]["test"], serde_json::json!([2, 2]));
    let bad = root.join("bad.csv");
    std::fs::write(&bad, "file,class\na.jpg,x\n").unwrap();
    let out = augtrain(&["inspect", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("bad.csv") && stderr.contains("'path' and 'label'"),
        "{stderr}"
    );
}

/// Images in sub-folders of a class folder are counted for that class, as torchvision's
/// `ImageFolder` takes them. Before, `red/sub/*.png` gave "red 0" and "0 skipped".
#[test]
fn images_in_sub_folders_of_a_class_folder_are_that_class() {
    let root = scratch("inspect-nested");
    let ds = image_folder(&root.join("ds"), &["blue", "red"], 4);
    std::fs::create_dir_all(ds.join("red/sub/deeper")).unwrap();
    std::fs::rename(ds.join("red/0.png"), ds.join("red/sub/0.png")).unwrap();
    std::fs::rename(ds.join("red/1.png"), ds.join("red/sub/deeper/1.png")).unwrap();
    std::fs::create_dir_all(ds.join("red/.hidden")).unwrap();
    std::fs::copy(ds.join("red/2.png"), ds.join("red/.hidden/2.png")).unwrap();
    let v = stdout_json(&augtrain(&["inspect", ds.to_str().unwrap(), "--json"]));
    assert_eq!(v["images"], 8, "{v}");
    assert_eq!(v["counts"]["(unsplit)"], serde_json::json!([4, 4]), "{v}");
}
