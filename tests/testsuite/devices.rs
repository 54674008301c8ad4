//! `augtrain devices` and device choice: listing adapters, no adapter for `--device gpu`/`auto`.

use crate::support::*;

#[test]
fn devices_lists_adapters_and_explains_the_choice() {
    let stdout = ok(&augtrain(&["devices"]));
    assert!(stdout.contains("--device auto:"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&augtrain(&["devices", "--json"]))).unwrap();
    assert!(json["adapters"].is_array());
}

#[test]
fn no_adapter_means_a_clear_error_for_gpu_and_the_cpu_for_auto() {
    let hide = [
        ("VK_ICD_FILENAMES", "/nonexistent.json"),
        ("VK_DRIVER_FILES", "/nonexistent.json"),
        ("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent.json"),
    ];
    let runs = scratch("no-adapter");
    let out = TrainArgs::new()
        .device("gpu")
        .runs_dir(&runs)
        .run_env(&hide);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no GPU adapter"), "{stderr}");
    assert!(!runs.join("x").exists());
    let out = TrainArgs::new()
        .device("auto")
        .epochs(1)
        .synthetic(100, 20)
        .model("mlp")
        .runs_dir(&runs)
        .name("auto")
        .run_env(&hide);
    let stdout = ok(&out);
    assert!(stdout.contains("CPU (burn Flex)"), "{stdout}");
}

#[test]
fn bad_device_lists_fail_with_one_line_and_write_nothing() {
    let runs = scratch("bad-devices");
    let cases: [(&[&str], i32, &str); 4] = [
        (&["--devices", "0,x"], 2, "expected all or adapter numbers"),
        (&["--devices", "0,0"], 2, "names an adapter twice"),
        (
            &["--devices", "0", "--device", "cpu"],
            2,
            "cannot be used with",
        ),
        (&["--devices", "999"], 1, "names adapter 999 but there are"),
    ];
    for (flags, code, says) in cases {
        let mut args = TrainArgs::new().runs_dir(&runs).name("x");
        for pair in flags.chunks(2) {
            args = args.set(pair[0], pair[1]);
        }
        let out = args.run_env(&[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{flags:?}: {stderr}");
        // One line says it all (clap adds a pointer to --help below its own).
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains(says), "{flags:?}: {stderr}");
        assert!(!runs.join("x").exists(), "{flags:?} wrote a run");
    }
}
