//! The run report (written by `train`, redrawn by `augtrain plot`) in a real browser, and the
//! resolved config reproducing a run.

use std::path::Path;

use crate::support::*;

fn headless(browser: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

#[test]
fn run_report_renders_in_a_real_browser() {
    let root = scratch("report");
    let runs = root.join("runs");
    TrainArgs::small()
        .runs_dir(&runs)
        .name("r")
        .quiet()
        .run_ok();
    let dir = runs.join("r");
    for f in [
        "report.html",
        "curves_loss.png",
        "curves_accuracy.png",
        "confusion.png",
        "per_class.png",
        "augmentation.png",
        "dataset.json",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        html.contains("data:image/png;base64,") && !html.contains("src=\"http"),
        "self-contained"
    );
    let Some(browser) = chromium() else { return };
    let url = format!("file://{}", dir.join("report.html").display());
    let shot = root.join("shot.png");
    let out = headless(
        &browser,
        &root.join("profile1"),
        &[
            "--window-size=1200,1800",
            &format!("--screenshot={}", shot.display()),
            &url,
        ],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        !log.contains("Uncaught") && !log.contains(":ERROR:CONSOLE"),
        "JavaScript error:\n{log}"
    );
    let img = image::open(&shot)
        .unwrap_or_else(|e| panic!("no screenshot ({e}):\n{log}"))
        .to_rgb8();
    let dark = img
        .pixels()
        .filter(|p| p.0.iter().map(|&v| v as u32).sum::<u32>() < 600)
        .count();
    let share = dark as f64 / (img.width() * img.height()) as f64;
    assert!(
        share > 0.02,
        "the page looks blank: {share:.4} of pixels are not white"
    );
    // The page's script ran to the end (it builds the table of contents).
    let dom = headless(&browser, &root.join("profile2"), &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("data-ready=\"yes\"") && dom.contains("href=\"#training\""),
        "script did not run"
    );
}

#[test]
fn plot_redraws_and_the_resolved_config_reproduces_the_run() {
    let root = scratch("config-repro");
    let runs = root.join("runs");
    TrainArgs::small()
        .runs_dir(&runs)
        .name("a")
        .quiet()
        .seed(5)
        .run_ok();
    let a = runs.join("a");
    TrainArgs::new()
        .config(&a.join("config.toml"))
        .runs_dir(&runs)
        .name("b")
        .quiet()
        .run_ok();
    let read = |n: &str, f: &str| std::fs::read_to_string(runs.join(n).join(f)).unwrap();
    assert_eq!(read("a", "report.json"), read("b", "report.json"));
    assert_eq!(read("a", "config.toml"), read("b", "config.toml"));
    for f in ["report.html", "confusion.png", "augmentation.png"] {
        std::fs::remove_file(a.join(f)).unwrap();
    }
    ok(&augtrain(&[
        "plot",
        "--run",
        a.to_str().unwrap(),
        "--quiet",
    ]));
    for f in ["report.html", "confusion.png", "augmentation.png"] {
        assert!(a.join(f).is_file(), "{f} not redrawn");
    }
    // Flags override the config file; unknown keys are refused with a suggestion.
    let cfg = root.join("run.toml");
    std::fs::write(&cfg, ok(&augtrain(&["config", "--default"]))).unwrap();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("epochs = 10", "epochz = 10");
    std::fs::write(&cfg, text).unwrap();
    let out = TrainArgs::new().config(&cfg).runs_dir(&runs).run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A bad config file is bad input (exit 1), not a bad command line (exit 2).
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did you mean `epochs`?") && stderr.contains("run.toml"),
        "{stderr}"
    );
}
