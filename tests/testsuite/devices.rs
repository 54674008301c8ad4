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
