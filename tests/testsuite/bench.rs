//! `augtrain bench`: machine, medians and ceilings in the JSON report.

use crate::support::*;

#[test]
fn bench_reports_machine_medians_and_ceilings_as_json() {
    let dir = scratch("bench");
    let empty = dir.join("no-data");
    std::fs::create_dir_all(&empty).unwrap();
    let aug_json = dir.join("augment.json");
    let load_json = dir.join("load.json");
    let table = ok(&augtrain(&[
        "bench",
        "augment",
        "--quick",
        "--quiet",
        "--device",
        "cpu",
        "--json",
        aug_json.to_str().unwrap(),
    ]));
    assert!(table.contains("full pipeline"), "{table}");
    // Without real data the load suite makes its own IDX file and JPEG folder.
    ok(&augtrain(&[
        "bench",
        "load",
        "--quick",
        "--quiet",
        "--device",
        "cpu",
        "--data",
        empty.to_str().unwrap(),
        "--json",
        load_json.to_str().unwrap(),
    ]));
    for path in [&aug_json, &load_json] {
        assert_machine_and_stats(&json(path));
    }
    assert_full_pipeline_rows_against_the_ceiling(&json(&aug_json));
    let load = json(&load_json);
    let names: Vec<&str> = load["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for want in [
        "IDX parse 8000x28x28 generated",
        "image folder 200 generated JPEGs",
        "pack read sequential",
        "pack read random",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(want)),
            "{want}: {names:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bench report names its machine (date, version, commit, CPU, device, cores), puts the
/// ceiling first, and every row's statistics are ordered and consistent with its throughput.
fn assert_machine_and_stats(report: &serde_json::Value) {
    let machine = &report["machine"];
    for key in ["date", "version", "commit", "cpu", "device"] {
        assert!(
            machine[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key}: {machine}"
        );
    }
    assert!(machine["cores"].as_u64().unwrap() >= 1);
    let rows = report["measurements"].as_array().unwrap();
    assert_eq!(rows[0]["group"], "ceiling", "the ceiling comes first");
    for row in rows {
        let s = &row["stats"];
        let (min, median, max) = (
            s["min"].as_f64().unwrap(),
            s["median"].as_f64().unwrap(),
            s["max"].as_f64().unwrap(),
        );
        assert!(0.0 < min && min <= median && median <= max, "{row}");
        assert!(s["calls_per_sample"].as_u64().unwrap() >= 1, "{row}");
        let ips = row["items_per_second"].as_f64().unwrap();
        let batch = row["batch"].as_f64().unwrap();
        assert!((ips - batch / median).abs() <= 1e-6 * ips, "{row}");
    }
}

/// The augment suite's full-pipeline rows: bytes moved are the u8 input plus the f32 output, and
/// the ceiling fraction is measured against the memcpy row of the same run.
fn assert_full_pipeline_rows_against_the_ceiling(aug: &serde_json::Value) {
    let rows = aug["measurements"].as_array().unwrap();
    for size in ["224x224 RGB", "28x28 gray"] {
        let full = rows
            .iter()
            .find(|r| r["name"] == format!("{size} full pipeline").as_str())
            .unwrap_or_else(|| panic!("no full pipeline row for {size}"));
        // Bytes moved are the u8 input plus the f32 output; the ceiling fraction is measured
        // against the memcpy row of the same run.
        let (w, c): (f64, f64) = if size.starts_with("224") {
            (224.0, 3.0)
        } else {
            (28.0, 1.0)
        };
        let per_image = w * w * c * 5.0;
        let bps = full["bytes_per_second"].as_f64().unwrap();
        let ips = full["items_per_second"].as_f64().unwrap();
        assert!((bps - ips * per_image).abs() <= 1e-6 * bps, "{full}");
        let ceiling = rows[0]["bytes_per_second"].as_f64().unwrap();
        let fraction = full["ceiling_fraction"].as_f64().unwrap();
        assert!((fraction - bps / ceiling).abs() <= 1e-9, "{full}");
        assert!(fraction > 0.0 && fraction < 1.0, "{full}");
    }
}

#[test]
fn bench_ops_times_burns_kernels_on_the_shared_cases() {
    let dir = scratch("bench-ops");
    let out = dir.join("ops.json");
    ok(&augtrain(&[
        "bench",
        "ops",
        "--quick",
        "--quiet",
        "--device",
        "cpu",
        "--filter",
        "lenet.fc",
        "--json",
        out.to_str().unwrap(),
    ]));
    let report = json(&out);
    let ops: Vec<&serde_json::Value> = report["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["group"] == "ops")
        .collect();
    assert_eq!(ops.len(), 4, "{ops:?}");
    assert!(
        ops.iter()
            .all(|m| m["name"].as_str().unwrap().starts_with("lenet.fc"))
    );
    assert!(
        ops.iter()
            .all(|m| m["note"].as_str().unwrap().ends_with("GFLOP/s"))
    );
    // A missing cases file is one line and exit 1.
    let bad = augtrain(&["bench", "ops", "--cases", "/nonexistent.json"]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn the_gpu_battery_runs_end_to_end_in_its_short_mode() {
    if !gpu() {
        return;
    }
    let out = scratch("gpu-battery");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = std::process::Command::new("bash")
        .arg(root.join("tools/gpu-battery.sh"))
        .arg(&out)
        .arg("--short")
        .current_dir(root)
        .env("AUGTRAIN", env!("CARGO_BIN_EXE_augtrain"))
        .env("GPU_TESTS", "")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&run.stdout).to_string();
    let table = std::fs::read_to_string(out.join("bench-gpu.txt")).unwrap_or_default();
    assert!(run.status.success(), "{said}\n{table}");
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["bench_rc"], 0, "{summary}");
    assert_eq!(summary["short"], true, "{summary}");
    assert!(
        json(&out.join("devices.json")).is_object() || json(&out.join("devices.json")).is_array()
    );
    let bench = json(&out.join("bench-gpu.json"));
    assert_machine_and_stats(&bench);
    // The line log holds the machine line, then every row of the report, in the same order.
    let lines = json_lines(&out.join("bench-gpu.jsonl"));
    assert_machine_line(&lines[0]);
    let logged: Vec<&serde_json::Value> = lines.iter().filter(|l| l["kind"] == "row").collect();
    let rows = bench["measurements"].as_array().unwrap();
    assert_eq!(logged.len(), rows.len());
    for (l, r) in logged.iter().zip(rows) {
        assert_eq!(l["name"], r["name"]);
    }
    // GPU augmentation rows are timed by the device, with the host's clock beside it.
    let full = rows
        .iter()
        .find(|r| r["engine"] == "gpu" && r["name"] == "224x224 RGB full pipeline")
        .unwrap();
    let note = full["note"].as_str().unwrap();
    assert!(
        note.contains("batches per sync") && note.contains("host clock"),
        "{note}"
    );
    assert_full_pipeline_rows_against_the_ceiling(&bench);
    let epochs = bench["gpu_training"].as_array().unwrap();
    assert_eq!(
        epochs.len(),
        4,
        "MLP and CNN, resident and streamed: {bench}"
    );
    for e in epochs {
        let t = &e["transfers"];
        assert!(e["images_per_second"].as_f64().unwrap() > 0.0, "{e}");
        assert!(t["kernel_launches"].as_u64().unwrap() > 0, "{e}");
        // 256 images in batches of 64: the loss is read about twice a second, far fewer times
        // than there are batches would allow on a fast device; at least the epoch's end.
        assert!(t["host_syncs"].as_u64().unwrap() >= 1, "{e}");
        if e["resident"] == true {
            assert_eq!(t["image_bytes_uploaded"], 0, "{e}");
        } else {
            assert_eq!(t["image_bytes_uploaded"], 256 * 28 * 28, "{e}");
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_gpu_battery_without_a_gpu_is_a_usage_error() {
    let out = augtrain(&["bench", "gpu", "--device", "cpu", "--quick"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bench gpu needs a GPU"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// Every line of a JSON-lines file.
fn json_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The first line of a bench line log: the machine, with the GPU adapter's API, driver and
/// name, how GPU rows are timed and the cache they rotate past.
fn assert_machine_line(line: &serde_json::Value) {
    assert_eq!(line["kind"], "machine", "{line}");
    for key in ["name", "api", "driver"] {
        assert!(line["gpu"][key].is_string(), "{key}: {line}");
    }
    let timing = line["gpu_timing"].as_str().unwrap();
    assert!(
        ["device timestamps", "host clock"].contains(&timing),
        "{line}"
    );
    assert!(line["gpu_cache"]["bytes"].as_u64().unwrap() > 0, "{line}");
}

#[test]
fn a_software_gpu_adapter_is_refused_in_one_line_unless_allowed() {
    let software = augtrain::device::list_adapters()
        .iter()
        .any(|a| a.software || a.api == "Gl");
    if !gpu() || !software {
        return;
    }
    // `gpu` takes the best adapter; on a machine with only Mesa's it is a software one.
    let hardware = augtrain::device::list_adapters()
        .iter()
        .any(|a| !a.software && a.api != "Gl");
    if hardware {
        return;
    }
    let out = augtrain(&["bench", "augment", "--device", "gpu", "--quick"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-software"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn the_mask_benchmark_runs_alone_and_logs_each_row_as_it_completes() {
    if !gpu() {
        return;
    }
    let dir = scratch("bench-masks");
    let log = dir.join("rows.jsonl");
    ok(&augtrain(&[
        "bench",
        "augment",
        "--device",
        "gpu",
        "--allow-software",
        "--quick",
        "--quiet",
        "--filter",
        "masks",
        "--jsonl",
        log.to_str().unwrap(),
    ]));
    let lines = json_lines(&log);
    assert_machine_line(&lines[0]);
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    // The two ceilings, then the mask pairs' rows only (CPU twin and GPU).
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names[0].starts_with("memcpy") && names[1].starts_with("buffer copy"));
    assert!(
        names[2..].iter().all(|n| n.contains("full pipeline")),
        "{names:?}"
    );
    let gpu_mask = lines
        .iter()
        .find(|l| l["engine"] == "gpu" && l["name"] == "224x224 RGB full pipeline + mask")
        .unwrap();
    assert!(gpu_mask["note"].as_str().unwrap().contains("bit for bit"));
    let _ = std::fs::remove_dir_all(&dir);
}
