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

/// A `params.jsonl` is outside input: a record whose `file` is absolute, leaves `--out`
/// through `..`, or goes through a symbolic link inside `--out` is refused naming the file,
/// the line and the name, exit 1, and nothing is written anywhere (issue 27, item 1).
#[test]
fn replay_refuses_records_naming_files_outside_the_output() {
    let root = scratch("augment-replay-escape");
    let a = root.join("a");
    ok(&augtrain(&[
        "augment",
        "--device",
        "cpu",
        "--n",
        "2",
        "--versions",
        "1",
        "--out",
        a.to_str().unwrap(),
        "--quiet",
    ]));
    let lines: Vec<String> = std::fs::read_to_string(a.join("params.jsonl"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let victim = root.join("victim.png");
    let outside = root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let b = root.join("b");
    std::fs::create_dir_all(&b).unwrap();
    std::os::unix::fs::symlink(&outside, b.join("sub")).unwrap();
    let cases = [
        (victim.to_str().unwrap().to_string(), "is an absolute path"),
        (
            "../victim.png".to_string(),
            "leaves its folder through '..'",
        ),
        ("sub/x.png".to_string(), "symbolic link 'sub'"),
    ];
    for (file, why) in cases {
        let mut r: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        r["file"] = file.clone().into();
        let params = root.join("hostile.jsonl");
        std::fs::write(&params, format!("{}\n{r}\n", lines[0])).unwrap();
        let out = augtrain(&[
            "augment",
            "--device",
            "cpu",
            "--replay",
            params.to_str().unwrap(),
            "--out",
            b.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {stderr}");
        assert!(
            stderr.contains("hostile.jsonl") && stderr.contains("line 2") && stderr.contains(why),
            "{file}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!victim.exists(), "{file}: wrote outside --out");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{file}");
        // Nothing written, not even the first record's image or the pipeline.
        let written: Vec<_> = std::fs::read_dir(&b).unwrap().collect();
        assert_eq!(written.len(), 1, "{file}: {written:?}");
    }
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
