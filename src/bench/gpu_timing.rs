//! Timing GPU work by the device rather than by the host: every buffer a launch needs is
//! drawn, packed and uploaded before the timed region ([`crate::augment::gpu::PreparedLaunch`]),
//! `K` launches are queued per sync inside one of cubecl's profile windows, and consecutive
//! launches rotate over enough input/output sets that together exceed four times the
//! last-level cache, so no launch finds its data in a cache the previous one warmed.
//!
//! Two clocks time the same samples: the device's (cubecl's profile: timestamp queries at the
//! start of the window's first compute pass and the end of its last, where the adapter has
//! `TIMESTAMP_QUERY`; else cubecl's host clock between two syncs) and the host's, around the
//! `K` launches and a sync. The first is the row's time; the second shows how much of a
//! launch the host still costs.

use std::time::Instant;

use super::{Options, Stats};
use crate::augment::AugmentError;
use crate::augment::gpu::GpuAugment;

/// How many times the last-level cache the rotated buffers of a case must exceed.
pub const CACHE_MULTIPLE: u64 = 4;

/// Assumed last-level cache of a hardware GPU, bytes: wgpu does not report it, so the battery
/// takes a bound above the caches of current cards (H100/H200 50 MB L2, RDNA3 96 MB Infinity
/// Cache, MI300X 256 MB).
pub const GPU_CACHE_BOUND: u64 = 256 << 20;

/// The last-level cache the battery rotates past, in bytes, and where the figure comes from.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CacheSize {
    /// Bytes.
    pub bytes: u64,
    /// `cpu L3 (sysfs)` for a software adapter, else the assumed GPU bound.
    pub source: String,
}

impl CacheSize {
    /// The cache a GPU adapter runs out of: the CPU's last-level cache for a software adapter
    /// (read from sysfs), else [`GPU_CACHE_BOUND`].
    pub fn for_adapter(software: bool) -> Self {
        if software && let Some(bytes) = cpu_last_level_cache() {
            return Self {
                bytes,
                source: "the CPU's last-level cache (sysfs): the adapter runs on the CPU".into(),
            };
        }
        Self {
            bytes: GPU_CACHE_BOUND,
            source: "assumed bound on GPU last-level caches (wgpu does not report it)".into(),
        }
    }

    /// Rotation sets of `set_bytes` each that together exceed [`CACHE_MULTIPLE`] × the cache
    /// (at least 2); a smoke run (`quick`) keeps 2.
    pub fn sets(&self, set_bytes: u64, quick: bool) -> usize {
        if quick {
            return 2;
        }
        ((CACHE_MULTIPLE * self.bytes) / set_bytes.max(1) + 1).max(2) as usize
    }
}

/// The largest last-level cache of CPU 0 in bytes, from `/sys/devices/system/cpu/cpu0/cache`.
pub fn cpu_last_level_cache() -> Option<u64> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("size")).ok())
        .filter_map(|s| parse_cache_size(s.trim()))
        .max()
}

/// `"491520K"`, `"32M"` or `"1024"` as bytes.
pub fn parse_cache_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let scale = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return None,
    };
    Some(n * scale)
}

/// What the GPU rows of the battery need: the kernel, the copy ceiling measured in the same
/// run (bytes per second, read + write), the cache to rotate past.
#[derive(Clone, Copy)]
pub struct GpuBench<'a> {
    /// The fused kernel on the device.
    pub kernel: &'a GpuAugment,
    /// The device's copy ceiling, bytes per second (read + write).
    pub ceiling: f64,
    /// The last-level cache the rows rotate past.
    pub cache: &'a CacheSize,
}

/// Device and host timings of one case, per launch (a whole batch: all of its chunks).
#[derive(Clone, Debug)]
pub struct DeviceTimes {
    /// Seconds per batch by the device's clock (cubecl's profile).
    pub device: Stats,
    /// Seconds per batch by the host's clock around the same launches and a sync.
    pub host: Stats,
    /// `device timestamps` or `host clock` (what [`DeviceTimes::device`] really is).
    pub method: &'static str,
    /// Batches queued per sync (`K`).
    pub per_sync: usize,
}

/// The shortest device time of one sample, seconds: `K` grows until a sample lasts this long.
const MIN_WINDOW_SECONDS: f64 = 0.05;

/// Most batches queued per sync.
const MAX_PER_SYNC: usize = 64;

/// Time `launch(i)` (queue batch `i`'s launches; `i` counts up across samples so the caller
/// rotates its buffer sets): one warm-up window, then `opts.reps()` samples of `K` batches
/// each, `K` chosen from the warm-up so that a sample lasts about [`MIN_WINDOW_SECONDS`].
pub fn time_launches(
    kernel: &GpuAugment,
    opts: &Options,
    launch: &(dyn Fn(usize) + Sync),
) -> Result<DeviceTimes, AugmentError> {
    kernel.sync()?;
    let mut next = 0usize;
    let mut window = |k: usize| -> Result<(f64, f64, &'static str), AugmentError> {
        let first = next;
        next += k;
        let start = Instant::now();
        let (device, method) = kernel.profile(|| (first..first + k).for_each(launch))?;
        kernel.sync()?;
        Ok((device, start.elapsed().as_secs_f64(), method))
    };
    let (warm, _, _) = window(1)?;
    let per_sync = ((MIN_WINDOW_SECONDS / warm.max(1e-9)).ceil() as usize).clamp(1, MAX_PER_SYNC);
    let (mut device, mut host) = (Vec::new(), Vec::new());
    let mut method = "host clock";
    for _ in 0..opts.reps() {
        let (d, h, m) = window(per_sync)?;
        device.push(d / per_sync as f64);
        host.push(h / per_sync as f64);
        method = m;
    }
    Ok(DeviceTimes {
        device: Stats::of(device, per_sync),
        host: Stats::of(host, per_sync),
        method,
        per_sync,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_parse_as_sysfs_writes_them() {
        assert_eq!(parse_cache_size("491520K"), Some(491_520 << 10));
        assert_eq!(parse_cache_size("32M"), Some(32 << 20));
        assert_eq!(parse_cache_size("1024"), Some(1024));
        assert_eq!(parse_cache_size("12Q"), None);
        assert_eq!(parse_cache_size(""), None);
    }

    #[test]
    fn rotation_sets_exceed_four_caches() {
        let cache = CacheSize {
            bytes: 50 << 20,
            source: String::new(),
        };
        // 193 MB a batch (224x224 RGB, 256 images): 2 sets are not enough for 200 MiB x 4.
        let set = 256 * (224 * 224 * 3 * 5) as u64;
        let n = cache.sets(set, false);
        assert!(n as u64 * set > CACHE_MULTIPLE * cache.bytes, "{n}");
        assert!(
            (n as u64 - 1) * set <= CACHE_MULTIPLE * cache.bytes + set,
            "{n}"
        );
        assert_eq!(cache.sets(set, true), 2);
        assert_eq!(cache.sets(u64::MAX, false), 2);
    }
}
