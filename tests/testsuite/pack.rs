//! `augtrain pack`: a pack holds exactly the pixels of a direct load and every command reads it.

use crate::support::*;

#[test]
fn pack_round_trips_and_trains() {
    let Some(hym) = data("hymenoptera") else {
        return;
    };
    let root = scratch("pack");
    let pack = root.join("hym.pack");
    ok(&augtrain(&[
        "pack",
        hym.to_str().unwrap(),
        "--out",
        pack.to_str().unwrap(),
        "--size",
        "32x32",
        "--shard-mb",
        "1",
        "--quiet",
    ]));
    let m = json(&pack.join("manifest.json"));
    assert_eq!(m["count"], 398);
    assert!(
        m["shards"].as_array().unwrap().len() >= 2,
        "1 MiB shards: several"
    );
    let index = std::fs::read_to_string(pack.join("index.csv")).unwrap();
    assert!(index.contains("train/ants/ant photos.jpg"));
    // The pack holds exactly the pixels a direct load produces.
    let opts = augtrain::data::LoadOptions {
        size: [32, 32],
        ..Default::default()
    };
    let direct = augtrain::data::source::load_whole(
        &augtrain::data::DataSource::Folder(hym.clone()),
        &opts,
        42,
    )
    .unwrap();
    let (packed, splits, _) = augtrain::data::pack::open(&pack).unwrap();
    assert_eq!(packed.pixels(), direct.data.pixels());
    assert_eq!(packed.labels, direct.data.labels);
    assert_eq!(splits, direct.splits);
    // Every command that takes data takes a pack.
    let v = stdout_json(&augtrain(&["inspect", pack.to_str().unwrap(), "--json"]));
    assert_eq!(v["counts"]["val"], serde_json::json!([70, 83]));
    let runs = root.join("runs");
    TrainArgs::new()
        .data(&pack)
        .model("mlp")
        .epochs(1)
        .runs_dir(&runs)
        .quiet()
        .run_ok();
    // Never over an existing pack.
    let out = augtrain(&[
        "pack",
        hym.to_str().unwrap(),
        "--out",
        pack.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}
