//! `augtrain agreement`: several annotators per image, on the simulated CIFAR-10 annotators of
//! `tests/fixtures/agreement/` with the real probabilities, and on an image folder whose
//! consensus file `split` then reads as a manifest.

use std::path::Path;

use crate::support::*;

fn fixture() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agreement/cifar10_annotators.json");
    json(&p)
}

/// The fixture's labels as a long CSV, images named by their index in the pred-probs file.
fn long_csv(f: &serde_json::Value, path: &Path) {
    let names = f["annotators"].as_array().unwrap();
    let mut text = String::from("image,annotator,label\n");
    for (row, index) in f["labels"]
        .as_array()
        .unwrap()
        .iter()
        .zip(f["index"].as_array().unwrap())
    {
        for (a, label) in row.as_array().unwrap().iter().enumerate() {
            if let Some(l) = label.as_u64() {
                text.push_str(&format!("{index},{},{l}\n", names[a].as_str().unwrap()));
            }
        }
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn agreement_on_real_cifar10_probabilities_beats_the_majority_vote() {
    let Some(dir) = data("label-errors") else {
        return;
    };
    let f = fixture();
    let root = scratch("agreement-cifar");
    let labels = root.join("votes.csv");
    long_csv(&f, &labels);
    let out = root.join("report");
    let stdout = ok(&augtrain(&[
        "agreement",
        "--labels",
        labels.to_str().unwrap(),
        "--pred-probs",
        dir.join("cifar10-test-pred-probs.csv").to_str().unwrap(),
        "--budget",
        "25",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(
        stdout.contains("labels on 1000 images from 5 annotators"),
        "{stdout}"
    );
    // The label-only statistics are the fixture's (scikit-learn, krippendorff, statsmodels).
    let report = json(&out.join("agreement.json"));
    let close = |a: &serde_json::Value, b: &serde_json::Value| {
        (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-12
    };
    assert!(close(&report["krippendorff_alpha"], &f["alpha"]));
    assert!(close(&report["percent_agreement"], &f["percent_agreement"]));
    assert!(close(&report["fleiss"]["kappa"], &f["fleiss"]));
    assert!(close(
        &report["pairs"][0]["kappa_quadratic"],
        &f["cohen"][0]["quadratic"]
    ));
    assert_eq!(report["method"], "crowdlab");
    // The spammer has the lowest CROWDLAB quality (annotators in order of first appearance).
    let annotators = report["annotators"].as_array().unwrap();
    let quality = |name: &str| {
        let a = annotators.iter().find(|a| a["name"] == name).unwrap();
        a["quality"].as_f64().unwrap()
    };
    for name in ["careful", "good", "cat_dog", "model_like"] {
        assert!(quality(name) > quality("spammer") + 0.3, "{name}");
    }
    // CROWDLAB's consensus recovers the given labels better than the majority vote.
    let csv = std::fs::read_to_string(out.join("consensus.csv")).unwrap();
    let truth: std::collections::HashMap<String, u64> = f["index"]
        .as_array()
        .unwrap()
        .iter()
        .zip(f["truth"].as_array().unwrap())
        .map(|(i, t)| (i.to_string(), t.as_u64().unwrap()))
        .collect();
    // (The majority vote column breaks ties by the probabilities: 923 of 1000; CROWDLAB 949.)
    let (mut consensus_right, mut majority_right) = (0, 0);
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let t = truth[cells[0]].to_string();
        consensus_right += (cells[1] == t) as usize;
        majority_right += (cells[4] == t) as usize;
    }
    assert_eq!(csv.lines().count(), 1001);
    assert!(
        consensus_right > majority_right + 15,
        "{consensus_right} vs {majority_right}"
    );
    // What to label next: 25 tasks, lowest ActiveLab score first, from the 9,000 unlabelled
    // test images as well as the labelled ones.
    let queue = json(&out.join("review_queue.json"));
    assert_eq!(queue.as_array().unwrap().len(), 25);
    let next = std::fs::read_to_string(out.join("next_to_label.csv")).unwrap();
    let scores: Vec<f64> = next
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        std::fs::read_to_string(out.join("labeling_config.xml"))
            .unwrap()
            .contains("<Choice value=\"9\"/>")
    );
}

#[test]
fn agreement_consensus_is_a_manifest_split_reads() {
    let root = scratch("agreement-folder");
    let ds = image_folder(&root.join("photos"), &["ants", "bees"], 6);
    // Three annotators over the 12 images (paths relative to the data root), one missing
    // label, one disagreement; the Label Studio export holds the same labels.
    let mut wide = String::from("image,ann,bob,cyd\n");
    for class in ["ants", "bees"] {
        for i in 0..6 {
            let other = if class == "ants" { "bees" } else { "ants" };
            let cyd = if i == 0 { other } else { class };
            let bob = if i == 1 { "" } else { class };
            wide.push_str(&format!("{class}/{i}.png,{class},{bob},{cyd}\n"));
        }
    }
    let labels = root.join("wide.csv");
    std::fs::write(&labels, wide).unwrap();
    let out = root.join("report");
    ok(&augtrain(&[
        "agreement",
        ds.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
        "--labels-only",
        "--consensus",
        "majority",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    let consensus = out.join("consensus.csv");
    let text = std::fs::read_to_string(&consensus).unwrap();
    assert_eq!(text.lines().count(), 13, "{text}");
    assert!(
        text.lines().skip(1).all(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            Path::new(cells[0]).is_file() && cells[0].contains(&format!("/{}/", cells[1]))
        }),
        "{text}"
    );
    // The same labels as a COCO file with an annotator per object (a whole-image box each;
    // ann draws two boxes on one image) give the same consensus.
    let coco = root.join("instances.json");
    std::fs::write(
        &coco,
        coco_of_wide(&std::fs::read_to_string(&labels).unwrap()),
    )
    .unwrap();
    let from_coco = root.join("report-coco");
    ok(&augtrain(&[
        "agreement",
        ds.to_str().unwrap(),
        "--labels",
        coco.to_str().unwrap(),
        "--labels-only",
        "--consensus",
        "majority",
        "--out",
        from_coco.to_str().unwrap(),
        "--quiet",
    ]));
    assert_eq!(
        std::fs::read_to_string(from_coco.join("consensus.csv")).unwrap(),
        text
    );
    // `split` takes the consensus file as a manifest.
    let split = root.join("consensus.split.csv");
    ok(&augtrain(&[
        "split",
        consensus.to_str().unwrap(),
        "--val",
        "0.25",
        "--test",
        "0.25",
        "--out",
        split.to_str().unwrap(),
    ]));
    assert!(split.exists());
}

/// A COCO file holding a wide label table's labels: per label a box over the whole 8x8 image
/// with the label's class and the column's annotator (the first annotator twice per image).
fn coco_of_wide(wide: &str) -> String {
    let mut lines = wide.lines();
    let annotators: Vec<&str> = lines.next().unwrap().split(',').skip(1).collect();
    let classes = ["ants", "bees"];
    let (mut images, mut anns) = (Vec::new(), Vec::new());
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        images
            .push(serde_json::json!({"id": i + 1, "file_name": cells[0], "width": 8, "height": 8}));
        for (a, label) in cells[1..].iter().enumerate().filter(|(_, l)| !l.is_empty()) {
            let class = classes.iter().position(|c| c == label).unwrap() + 1;
            for _ in 0..if a == 0 { 2 } else { 1 } {
                anns.push(serde_json::json!({"id": anns.len() + 1, "image_id": i + 1,
                    "category_id": class, "bbox": [0, 0, 8, 8], "area": 64, "iscrowd": 0,
                    "annotator": annotators[a]}));
            }
        }
    }
    let cats = [
        serde_json::json!({"id": 1, "name": "ants"}),
        serde_json::json!({"id": 2, "name": "bees"}),
    ];
    serde_json::json!({"images": images, "annotations": anns, "categories": cats}).to_string()
}

#[test]
fn agreement_refuses_bad_labels_with_one_line_and_no_output() {
    let root = scratch("agreement-bad");
    let out = root.join("report");
    let cases: [(&str, &str, &str); 3] = [
        (
            "dup.csv",
            "image,annotator,label\na,x,1\na,x,2\nb,y,1\n",
            "labelled image 'a' twice",
        ),
        ("ragged.csv", "image,annotator,label\na,x\n", "field"),
        ("none.csv", "image,annotator,label\na,x,\n", "no labels"),
    ];
    for (name, text, says) in cases {
        let p = root.join(name);
        std::fs::write(&p, text).unwrap();
        let o = augtrain(&[
            "agreement",
            "--labels",
            p.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains(name),
            "{name}: {stderr}"
        );
        assert!(!out.exists(), "{name}");
    }
    let p = root.join("dup.csv");
    let o = augtrain(&[
        "agreement",
        "--labels",
        p.to_str().unwrap(),
        "--budget",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // Probabilities that do not cover the labelled images.
    let probs = root.join("probs.csv");
    std::fs::write(&probs, "index,p0,p1\n0,0.5,0.5\n").unwrap();
    let labels = root.join("ok.csv");
    std::fs::write(&labels, "image,annotator,label\n7,x,1\n7,y,1\n").unwrap();
    let o = augtrain(&[
        "agreement",
        "--labels",
        labels.to_str().unwrap(),
        "--pred-probs",
        probs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("image '7' has no probabilities"),
        "{stderr}"
    );
    assert!(!out.exists());
}
