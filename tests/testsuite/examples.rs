//! The example programs run in quick mode.

use crate::support::*;

#[test]
fn examples_run_in_quick_mode() {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let out = scratch("examples");
    let data_dir = data("").map(|d| d.to_string_lossy().into_owned());
    for name in [
        "quickstart",
        "mnist_augmentation",
        "hymenoptera",
        "label_noise",
    ] {
        let bin = dir.join(name);
        assert!(
            bin.exists(),
            "example binary {} missing (cargo test builds examples)",
            bin.display()
        );
        let mut cmd = std::process::Command::new(&bin);
        cmd.env("AUGTRAIN_EXAMPLE_QUICK", "1")
            .env("AUGTRAIN_EXAMPLE_OUT", &out)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir());
        if let Some(d) = &data_dir {
            cmd.env("AUGTRAIN_TEST_DATA", d);
        }
        let o = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{name} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        if data_dir.is_some() || name == "quickstart" {
            assert!(
                stdout.contains("## 1.") && stdout.contains("## 4."),
                "{name}: no narrative sections:\n{stdout}"
            );
            let pngs = std::fs::read_dir(out.join(name))
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "png")
                })
                .count()
                + std::fs::read_dir(out.join(name))
                    .unwrap()
                    .filter(|e| e.as_ref().unwrap().path().is_dir())
                    .count();
            assert!(pngs > 0, "{name} wrote no pictures");
        }
    }
}
