//! The example programs run in quick mode.

use crate::support::*;

#[test]
fn examples_run_in_quick_mode() {
    let out = scratch("examples");
    let data_dir = data("");
    for name in [
        "quickstart",
        "mnist_augmentation",
        "hymenoptera",
        "label_noise",
    ] {
        let stdout = run_example(name, &out);
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
