//! The benchmark harness behind `augtrain bench`: throughput of augmentation, loading and
//! training, each against a ceiling measured in the same run (CPU: multi-threaded `memcpy`
//! bandwidth; GPU: a buffer-to-buffer copy kernel on the same device), with the median and
//! spread of repeated timed runs after warm-up.

pub mod agreement;
pub mod audit;
pub mod augment;
pub mod ceiling;
pub mod child;
pub mod gpu;
pub mod gpu_batch;
pub mod gpu_timing;
pub mod inference;
pub mod knn;
pub mod load;
pub mod masks;
pub mod ops;
pub mod reference;
pub mod rows;
pub mod train;
pub mod transfer;

use std::time::Instant;

use serde::Serialize;

use crate::device::ComputeDevice;

/// Which benchmarks to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// Every augmentation op alone and the full pipeline.
    Augment,
    /// Dataset parsing and generation.
    Load,
    /// Training steps and one end-to-end epoch.
    Train,
    /// Audit throughput at two dataset sizes (not part of `all`).
    Audit,
    /// Agreement statistics and Dawid-Skene on 1,000,000 images x 5 simulated annotators
    /// (not part of `all`; `--reference PYTHON` times the Python references beside them).
    Agreement,
    /// Exact nearest-neighbour search of embeddings, 10k and 100k x 1280 (not part of `all`).
    Knn,
    /// burn's kernels one by one on the layer shapes of `tools/op_cases.json` (not part of
    /// `all`; `tools/torch_op_bench.py` times PyTorch on the same cases).
    Ops,
    /// The GPU battery: the copy ceiling, every augmentation op and the full pipeline as a
    /// fraction of it, and one training epoch of every model with resident and with
    /// per-batch-uploaded images, syncs and kernel launches per epoch (not part of `all`;
    /// needs a GPU; `--quick` for a smoke run on a software adapter).
    Gpu,
    /// Inference: the forward pass of the CNN, ResNet-18 and EfficientNet-Lite0 at batch 1 and
    /// 32, `embed` of hymenoptera and `eval` of a run on its 153 test photos end to end,
    /// alternated with `tools/torch_infer_bench.py` when `--reference PYTHON` is given (not part
    /// of `all`).
    Inference,
    /// Transfer learning end to end: the pretrained EfficientNet-Lite0 fine-tuned on
    /// hymenoptera by the whole `augtrain train` command (the default recipe and the PyTorch
    /// tutorial's, head only and full), alternated seed by seed with
    /// `tools/transfer_reference.py` when `--reference PYTHON` is given (not part of `all`).
    Transfer,
    /// All of the above.
    All,
}

/// Options of a benchmark run.
#[derive(Clone, Debug)]
pub struct Options {
    /// The suite.
    pub suite: Suite,
    /// Fewer repetitions and cases (a smoke run; still after warm-up).
    pub quick: bool,
    /// GPU augmentation timing includes the image upload.
    pub with_upload: bool,
    /// Profile one training epoch by phase.
    pub breakdown: bool,
    /// Real data directory (`mnist-10k` is used when present).
    pub data: Option<std::path::PathBuf>,
    /// Larger models whose training step the train suite also times at 224×224×3, batch 32,
    /// 1000 classes (as `tools/torch_train_bench.py`), e.g. resnet18, efficientnet-lite0.
    pub models: Vec<augtrain_run::config::ModelKind>,
    /// The op cases file of the ops suite.
    pub op_cases: std::path::PathBuf,
    /// Only the cases whose name contains this (all when empty): the ops suite's op cases,
    /// the augment and gpu suites' cases (`masks` runs the mask pairs alone), the inference
    /// suite's cases (`resnet18 forward, batch 1`, `embed`).
    pub op_filter: String,
    /// Time a software (Mesa lavapipe/llvmpipe, SwiftShader) or OpenGL adapter instead of
    /// refusing it.
    pub allow_software: bool,
    /// A Python with torch: run `tools/torch_train_bench.py` beside the train suite,
    /// `tools/torch_infer_bench.py` alternated with the inference suite.
    pub reference: Option<std::path::PathBuf>,
}

impl Options {
    /// Whether the case `name` passes the filter.
    pub fn wants_case(&self, name: &str) -> bool {
        name.contains(self.op_filter.as_str())
    }

    /// Timed repetitions per measurement.
    pub fn reps(&self) -> usize {
        if self.quick { 5 } else { 9 }
    }
}

/// Timing statistics of repeated runs, in seconds per call.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    /// Median.
    pub median: f64,
    /// Fastest.
    pub min: f64,
    /// Slowest.
    pub max: f64,
    /// Interquartile range divided by the median.
    pub spread: f64,
    /// Timed samples.
    pub samples: usize,
    /// Calls averaged inside each sample (short calls are repeated, see [`MIN_SAMPLE_SECONDS`]).
    pub calls_per_sample: usize,
}

impl Stats {
    /// The statistics of `samples` (seconds per call), each the mean of `calls_per_sample`
    /// calls.
    pub fn of(mut samples: Vec<f64>, calls_per_sample: usize) -> Self {
        if samples.is_empty() {
            samples.push(f64::NAN);
        }
        samples.sort_by(f64::total_cmp);
        let q = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
        let median = q(0.5);
        Stats {
            median,
            min: samples[0],
            max: samples[samples.len() - 1],
            spread: (q(0.75) - q(0.25)) / median.max(1e-12),
            samples: samples.len(),
            calls_per_sample,
        }
    }

    /// The statistics of one timed run of `seconds` (a whole epoch, say).
    pub fn single(seconds: f64) -> Self {
        Self {
            median: seconds,
            min: seconds,
            max: seconds,
            spread: 0.0,
            samples: 1,
            calls_per_sample: 1,
        }
    }
}

/// The shortest timed sample, in seconds. A call shorter than this is repeated inside one
/// sample, so that the brief stalls of a shared machine are averaged over rather than caught
/// whole by one of a handful of millisecond-long samples.
pub const MIN_SAMPLE_SECONDS: f64 = 0.1;

/// Run `f` `warmup` times untimed, then take `reps` timed samples. Each sample times
/// `calls_per_sample` consecutive calls (enough to last [`MIN_SAMPLE_SECONDS`], judged from the
/// last warm-up call; one call when there is no warm-up) and records the time per call.
pub fn time<F: FnMut()>(warmup: usize, reps: usize, mut f: F) -> Stats {
    let mut last = f64::INFINITY;
    for _ in 0..warmup {
        let start = Instant::now();
        f();
        last = start.elapsed().as_secs_f64();
    }
    let calls = if last.is_finite() {
        (MIN_SAMPLE_SECONDS / last.max(1e-9))
            .ceil()
            .clamp(1.0, 10_000.0) as usize
    } else {
        1
    };
    let t: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_secs_f64() / calls as f64
        })
        .collect();
    Stats::of(t, calls)
}

/// One measured case.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    /// `augment`, `load`, `train`, `ceiling`.
    pub group: String,
    /// What was measured.
    pub name: String,
    /// Where: `cpu` or `gpu`.
    pub engine: String,
    /// Items per timed run (images, or bytes for ceilings).
    pub batch: usize,
    /// Timing of one run.
    pub stats: Stats,
    /// Items (images) per second at the median.
    pub items_per_second: f64,
    /// Bytes read + written per second at the median, where meaningful.
    pub bytes_per_second: Option<f64>,
    /// `bytes_per_second` over the same engine's ceiling measured in this run.
    pub ceiling_fraction: Option<f64>,
    /// Anything worth knowing about the case.
    pub note: Option<String>,
}

/// Where and when the numbers were taken.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// UTC time of the run.
    pub date: String,
    /// augtrain's version.
    pub version: String,
    /// Git commit the binary was built from.
    pub commit: String,
    /// CPU model.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// Worker threads used by the CPU paths.
    pub threads: usize,
    /// The GPU adapter, when one was used.
    pub gpu: Option<crate::device::AdapterInfo>,
    /// The compute device in words.
    pub device: String,
    /// `nvidia-smi`'s line (name, memory, driver) when the command exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nvidia_smi: Option<String>,
    /// How GPU rows are timed: `device timestamps` or `host clock` (cubecl's profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_timing: Option<String>,
    /// The last-level cache the GPU rows rotate their buffers past.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_cache: Option<gpu_timing::CacheSize>,
    /// The device's largest buffer (bytes): batches whose buffers would exceed it run as
    /// several launches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_max_buffer_bytes: Option<u64>,
}

/// `nvidia-smi --query-gpu=name,memory.total,driver_version`, one line per GPU, when the
/// command exists and succeeds.
pub fn nvidia_smi_line() -> Option<String> {
    let out = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total,driver_version",
            "--format=csv,noheader",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout)
        .trim()
        .replace('\n', "; ");
    (!text.is_empty()).then_some(text)
}

/// Why `device` must not be timed as a GPU without `--allow-software`: a software rasterizer
/// (Mesa lavapipe/llvmpipe, SwiftShader: wgpu's `DeviceType::Cpu`) or an OpenGL adapter (a
/// real card seen through EGL/GL when its Vulkan driver is missing). `None` when it is fine.
pub fn refusal(device: &ComputeDevice) -> Option<String> {
    let a = device.adapter.as_ref()?;
    let lower = a.name.to_ascii_lowercase();
    let software = a.software
        || ["llvmpipe", "lavapipe", "swiftshader"]
            .iter()
            .any(|n| lower.contains(n));
    if software {
        return Some(format!(
            "the GPU adapter '{}' ({}) is a software rasterizer running on the CPU: its timings say nothing about a GPU; install the GPU's Vulkan/Metal/DX12 driver, or pass --allow-software to time it anyway",
            a.name, a.api
        ));
    }
    (a.api == "Gl").then(|| format!(
        "the GPU adapter '{}' is seen through OpenGL, which cubecl drives with fewer features and no timestamps: install its Vulkan driver (check `augtrain devices`), or pass --allow-software to time it anyway",
        a.name
    ))
}

impl Machine {
    /// Describe this machine and `device`.
    pub fn detect(device: &ComputeDevice) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        Machine {
            date: crate::util::time::iso8601_now(),
            version: env!("CARGO_PKG_VERSION").into(),
            commit: augtrain_run::GIT_COMMIT.into(),
            cpu,
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            threads: rayon::current_num_threads(),
            gpu: device.adapter.clone(),
            device: device.describe(),
            nvidia_smi: device.is_gpu().then(nvidia_smi_line).flatten(),
            gpu_timing: None,
            gpu_cache: None,
            gpu_max_buffer_bytes: None,
        }
    }
}

/// Everything a benchmark run produced.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// All measurements, ceilings first.
    pub measurements: Vec<Measurement>,
    /// Per-phase profile of one CPU training epoch, when asked for.
    pub breakdown: Option<train::EpochProfile>,
    /// The GPU battery's training epochs and their host/device traffic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gpu_training: Vec<gpu::EpochTraffic>,
}

impl Report {
    /// The report as an aligned text table.
    pub fn to_table(&self) -> String {
        let m = &self.machine;
        let mut out = format!(
            "augtrain {} ({}) on {}: {} ({} cores, {} threads); device {}\n\n",
            m.version, m.commit, m.date, m.cpu, m.cores, m.threads, m.device
        );
        // Columns as wide as their longest entry, so long case names keep the table aligned.
        let widest = |len: fn(&Measurement) -> usize, header: &str| {
            self.measurements
                .iter()
                .map(len)
                .fold(header.len(), usize::max)
        };
        let case_w = widest(|r| r.name.chars().count(), "case");
        let batch_w = widest(|r| r.batch.to_string().len(), "batch");
        out.push_str(&format!(
            "{:<8} {:<case_w$} {:<4} {:>batch_w$} {:>11} {:>7} {:>13} {:>10} {:>8}\n",
            "group", "case", "on", "batch", "median", "spread", "items/s", "GB/s", "ceiling"
        ));
        for r in &self.measurements {
            let gbs = r
                .bytes_per_second
                .map(|b| format!("{:.2}", b / 1e9))
                .unwrap_or_default();
            let frac = r
                .ceiling_fraction
                .map(|f| format!("{:.1}%", 100.0 * f))
                .unwrap_or_default();
            out.push_str(&format!(
                "{:<8} {:<case_w$} {:<4} {:>batch_w$} {:>9.3}ms {:>6.1}% {:>13.0} {:>10} {:>8}\n",
                r.group,
                r.name,
                r.engine,
                r.batch,
                r.stats.median * 1e3,
                100.0 * r.stats.spread,
                r.items_per_second,
                gbs,
                frac
            ));
        }
        if let Some(b) = &self.breakdown {
            out.push('\n');
            out.push_str(&b.to_table());
        }
        out
    }
}

/// Run the benchmarks `opts` ask for on `device`; with `jsonl`, append each row to it as a
/// JSON line the moment it completes (after a first line describing the machine).
pub fn run(
    opts: &Options,
    device: &ComputeDevice,
    jsonl: Option<&std::path::Path>,
    log: &dyn Fn(&str),
) -> crate::Result<Report> {
    if opts.suite == Suite::Gpu && !device.is_gpu() {
        return Err(crate::Error::Usage(
            "bench gpu needs a GPU: use --device gpu (Mesa's software adapter with --allow-software is enough for a --quick smoke run)".into(),
        ));
    }
    if !opts.allow_software
        && let Some(why) = refusal(device)
    {
        return Err(crate::Error::Usage(why));
    }
    let mut machine = Machine::detect(device);
    let gpu = match device.is_gpu() {
        true => {
            let kernel = crate::augment::gpu::GpuAugment::new(&device.device)?;
            let software = device.adapter.as_ref().is_some_and(|a| a.software);
            machine.gpu_timing = Some(kernel.timing_method().into());
            machine.gpu_cache = Some(gpu_timing::CacheSize::for_adapter(software));
            machine.gpu_max_buffer_bytes = Some(kernel.max_buffer_bytes());
            Some(kernel)
        }
        false => None,
    };
    let mut rows = match jsonl {
        Some(path) => rows::Rows::logged(path, &machine)?,
        None => rows::Rows::in_memory(),
    };
    let cpu_ceiling = ceiling::cpu_memcpy(opts);
    log(&format!(
        "ceiling: CPU memcpy {:.2} GB/s (read + write, {} threads)",
        cpu_ceiling.bytes_per_second.unwrap_or(0.0) / 1e9,
        rayon::current_num_threads()
    ));
    let cpu_bw = cpu_ceiling.bytes_per_second.unwrap_or(f64::NAN);
    rows.push(cpu_ceiling)?;
    let bench = match (&gpu, &machine.gpu_cache) {
        (Some(kernel), Some(cache)) => {
            let c = ceiling::gpu_copy(kernel, cache, opts)?;
            log(&format!(
                "ceiling: GPU buffer copy {:.2} GB/s (read + write, {})",
                c.bytes_per_second.unwrap_or(0.0) / 1e9,
                kernel.timing_method()
            ));
            let ceiling = c.bytes_per_second.unwrap_or(f64::NAN);
            rows.push(c)?;
            Some(gpu_timing::GpuBench {
                kernel,
                ceiling,
                cache,
            })
        }
        _ => None,
    };
    let gpu_training = run_suites(opts, device, cpu_bw, bench, &mut rows, log)?;
    let mut breakdown = None;
    if opts.suite == Suite::Train || opts.suite == Suite::All {
        let (m, b) = train::run(opts, device, log)?;
        rows.extend(m)?;
        breakdown = b;
        let seconds = if opts.quick { 5.0 } else { 20.0 };
        if let Some(python) = &opts.reference
            && let Some(r) = reference::torch_train(python, &opts.models, seconds, log)
        {
            rows.extend(r)?;
            reference::add_ratios(&mut rows.list);
        }
    }
    Ok(Report {
        machine,
        measurements: rows.list,
        breakdown,
        gpu_training,
    })
}

/// Every suite but training's, each row added to `rows` as it completes; returns the GPU
/// battery's training epochs.
fn run_suites(
    opts: &Options,
    device: &ComputeDevice,
    cpu_bw: f64,
    gpu: Option<gpu_timing::GpuBench<'_>>,
    rows: &mut rows::Rows,
    log: &dyn Fn(&str),
) -> crate::Result<Vec<gpu::EpochTraffic>> {
    let wants = |s: Suite| opts.suite == s || opts.suite == Suite::All;
    if wants(Suite::Augment) || opts.suite == Suite::Gpu {
        augment::run(opts, cpu_bw, gpu, rows, log)?;
        if opts.wants_case(masks::NAME) {
            masks::run(opts, cpu_bw, gpu, rows, log)?;
        }
    }
    if wants(Suite::Load) {
        rows.extend(load::run(opts, log)?)?;
    }
    if opts.suite == Suite::Audit {
        rows.extend(audit::run(opts, log)?)?;
    }
    if opts.suite == Suite::Agreement {
        rows.extend(agreement::run(opts, log)?)?;
    }
    if opts.suite == Suite::Inference {
        rows.extend(inference::run(opts, device, log)?)?;
    }
    if opts.suite == Suite::Transfer {
        transfer::run(opts, device, rows, log)?;
    }
    if opts.suite == Suite::Knn {
        rows.extend(knn::run(opts, log)?)?;
    }
    if opts.suite == Suite::Ops {
        let cases = ops::read_cases(&opts.op_cases, &opts.op_filter)?;
        rows.extend(ops::run(opts, &cases, device, log)?)?;
    }
    if opts.suite == Suite::Gpu {
        return gpu::run(opts, device, rows, log);
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_stay_aligned_with_long_names_and_batches() {
        let stats = time(0, 1, || {});
        let row = |name: &str, batch: usize| Measurement {
            group: "load".into(),
            name: name.into(),
            engine: "cpu".into(),
            batch,
            stats: stats.clone(),
            items_per_second: 1.0,
            bytes_per_second: None,
            ceiling_fraction: None,
            note: None,
        };
        let report = Report {
            machine: Machine::detect(
                &crate::device::open(augtrain_run::config::DeviceChoice::Cpu).unwrap(),
            ),
            measurements: vec![
                row("short", 64),
                row(
                    "a case name much longer than thirty-six characters ±15",
                    134_217_728,
                ),
            ],
            breakdown: None,
            gpu_training: Vec::new(),
        };
        let table = report.to_table();
        let lines: Vec<&str> = table.lines().skip(2).collect();
        assert_eq!(lines.len(), 3, "{table}");
        // The engine column and the end of the batch column line up on every line.
        let col = |l: &str, what: &str| {
            l.char_indices().count() - l[l.find(what).unwrap()..].chars().count()
        };
        let on = col(lines[0], " on ");
        assert_eq!(col(lines[1], " cpu "), on, "{table}");
        assert_eq!(col(lines[2], " cpu "), on, "{table}");
        let end = |l: &str, what: &str| col(l, what) + what.chars().count();
        assert_eq!(end(lines[0], "batch"), end(lines[1], "64"), "{table}");
        assert_eq!(
            end(lines[0], "batch"),
            end(lines[2], "134217728"),
            "{table}"
        );
    }

    #[test]
    fn stats_are_ordered() {
        let mut k = 0u64;
        let s = time(1, 5, || {
            k += 1;
            std::hint::black_box(k);
        });
        assert_eq!(s.samples, 5);
        // A call this short is repeated inside each sample; without warm-up it is not.
        assert!(s.calls_per_sample > 1);
        assert_eq!(time(0, 2, || {}).calls_per_sample, 1);
        assert!(s.min <= s.median && s.median <= s.max);
        assert!(s.spread >= 0.0);
    }
}
