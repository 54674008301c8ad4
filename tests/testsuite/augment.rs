//! `augtrain augment`: contact sheet, augmented images with their parameters, exact replay.

use crate::support::*;

#[test]
fn augment_preview_out_and_exact_replay() {
    let root = scratch("augment");
    let spec = root.join("p.toml");
    std::fs::write(
        &spec,
        "version = 1\nborder = \"reflect\"\n[[ops]]\nop = \"hflip\"\n[[ops]]\nop = \"rotate\"\ndegrees = [-20.0, 20.0]\n\
         [[ops]]\nop = \"random_resized_crop\"\nwidth = 24\nheight = 24\n[[ops]]\nop = \"gaussian_noise\"\nsigma = [0.0, 0.1]\n\
         [[ops]]\nop = \"erase\"\n[[ops]]\nop = \"normalize\"\nmean = [0.5]\nstd = [0.25]\n[[ops]]\nop = \"mixup\"\nalpha = 0.4\n",
    )
    .unwrap();
    let (a, b, grid) = (root.join("a"), root.join("b"), root.join("grid.png"));
    ok(&augtrain(&[
        "augment",
        "--device",
        "cpu",
        "--pipeline",
        spec.to_str().unwrap(),
        "--n",
        "6",
        "--versions",
        "3",
        "--preview",
        grid.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
        "--quiet",
    ]));
    let sheet = image::open(&grid).unwrap();
    assert!(sheet.width() > 4 * 24 && sheet.height() > 6 * 24);
    let lines = std::fs::read_to_string(a.join("params.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 18);
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(first["params"]["affine"].is_array() && first["params"]["mix"].is_object());
    ok(&augtrain(&[
        "augment",
        "--device",
        "cpu",
        "--pipeline",
        spec.to_str().unwrap(),
        "--replay",
        a.join("params.jsonl").to_str().unwrap(),
        "--out",
        b.to_str().unwrap(),
        "--quiet",
    ]));
    for line in lines.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = r["file"].as_str().unwrap();
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file}"
        );
        let png = image::open(a.join(file)).unwrap();
        assert_eq!((png.width(), png.height()), (24, 24));
    }
}

/// A params file records the data its images came from: replaying it without that `--data`
/// (on the built-in images) is an error naming both, exit 1, and writes no image.
#[test]
fn replay_on_other_data_is_refused() {
    let root = scratch("augment-replay-source");
    let data = image_folder(&root.join("data"), &["a", "b"], 3);
    let (a, b) = (root.join("a"), root.join("b"));
    ok(&augtrain(&[
        "augment",
        "--device",
        "cpu",
        "--data",
        data.to_str().unwrap(),
        "--n",
        "2",
        "--versions",
        "1",
        "--out",
        a.to_str().unwrap(),
        "--quiet",
    ]));
    let line = std::fs::read_to_string(a.join("params.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert!(
        first["source"].as_str().unwrap().ends_with("data"),
        "{first}"
    );
    let out = augtrain(&[
        "augment",
        "--device",
        "cpu",
        "--replay",
        a.join("params.jsonl").to_str().unwrap(),
        "--out",
        b.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("params.jsonl")
            && stderr.contains("synthetic")
            && stderr.contains("--data"),
        "{stderr}"
    );
    let pngs = std::fs::read_dir(&b)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "png")
            })
            .count()
        })
        .unwrap_or(0);
    assert_eq!(pngs, 0, "no image written");
}

/// `augment --preview --versions 1000000` allocated terabytes of augmented images and
/// contact sheet and aborted; now a usage error naming the largest --versions that fits.
#[test]
fn too_many_preview_versions_are_a_usage_error_naming_what_fits() {
    let root = scratch("augment-versions");
    let out = augtrain_limited(
        &[
            "augment",
            "--preview",
            root.join("grid.png").to_str().unwrap(),
            "--versions",
            "1000000",
            "--device",
            "cpu",
        ],
        16 << 30,
    );
    let line = one_error_line(&out, 2);
    assert!(line.contains("--versions 1000000 of 16 images"), "{line}");
    assert!(
        line.contains("the largest --versions that fits is "),
        "{line}"
    );
    assert!(!root.join("grid.png").exists());
}
