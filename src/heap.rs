//! The process's heap policy for training on the CPU.
//!
//! burn's CPU backend allocates a fresh buffer for nearly every tensor a training step makes
//! and frees it within the step. With glibc's defaults, buffers above its dynamic mmap
//! threshold are mapped and unmapped each time and freed heap tops are trimmed back to the
//! kernel, so the next step takes a page fault for every 4 KiB it writes (~5 µs each on the
//! 2-core VM BENCHMARKS.md describes: the LeNet step spent a fifth of its time there). Keeping
//! freed memory in the heap for reuse is what PyTorch's CPU tuning guide gets by switching to
//! jemalloc or tcmalloc; here it is three `mallopt` settings of the allocator already in use.
//!
//! Buffers above 32 MiB, the largest threshold glibc accepts, were still mapped fresh: at batch
//! 32 an EfficientNet-Lite0 or ResNet-18 activation at 112×112 is 51–103 MB, so inference
//! (`embed`, `eval`, the validation pass, head-only training) page-faulted through every one
//! of them and unmapped it again (TLB shootdowns across the workers). glibc also takes no
//! mapping at all when told (`M_MMAP_MAX` 0): every buffer then comes from the heap and is
//! reused. Measured on the 2-core VM (BENCHMARKS.md, "The heap keeps large buffers"): `embed`
//! of hymenoptera 11.5 → 6.4 s, a head-only transfer epoch 10–12 → 7–8 s, training steps
//! unchanged within noise, peak memory unchanged for training and +16 % for `embed`. glibc
//! still maps memory when the heap cannot grow, so no allocation fails for want of it, and a
//! thread other than the main one still gets a mapping for a buffer above its arena's 64 MiB
//! heaps.

/// Largest mmap threshold glibc accepts (`HEAP_MAX_SIZE / 2` on 64-bit targets), bytes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: libc::c_int = 32 << 20;

/// Freed memory at the top of the heap kept before trimming, bytes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD_BYTES: libc::c_int = 1 << 30;

/// Keep freed memory for reuse instead of returning it to the kernel: every buffer comes from
/// the heap (no mapping per buffer; the threshold of 32 MiB stays as the fallback's), and up to
/// 1 GiB of freed heap is kept. Returns whether the policy was applied: not when the user set
/// glibc's malloc tunables (`GLIBC_TUNABLES` naming `glibc.malloc`, or `MALLOC_MMAP_THRESHOLD_`
/// / `MALLOC_TRIM_THRESHOLD_` / `MALLOC_MMAP_MAX_`), which then win, and not off glibc.
///
/// # Safety
/// Changes allocator settings: call it before any other thread starts.
pub unsafe fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if user_tuned() {
            return false;
        }
        // SAFETY: mallopt only changes allocator parameters; no other thread allocates yet.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
                && libc::mallopt(libc::M_MMAP_MAX, 0) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// Whether the user set glibc's malloc tunables, which then win over this policy.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn user_tuned() -> bool {
    std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc"))
        || [
            "MALLOC_MMAP_THRESHOLD_",
            "MALLOC_TRIM_THRESHOLD_",
            "MALLOC_MMAP_MAX_",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_every_setting_unless_the_user_tuned_malloc() {
        // SAFETY: mallopt takes the allocator's own locks; other test threads may allocate.
        let applied = unsafe { super::keep_freed_memory() };
        assert_eq!(applied, !super::user_tuned());
        if !applied {
            return;
        }
        // A buffer above the largest mmap threshold comes from the heap, not a mapping (this
        // test's thread has an arena of its own, whose heaps hold up to 64 MiB).
        // SAFETY: mallinfo2 only reads the allocator's statistics.
        let mapped = || unsafe { libc::mallinfo2() }.hblks;
        let before = mapped();
        let big = vec![1u8; 48 << 20];
        assert_eq!(mapped(), before, "a 48 MiB buffer was mapped");
        std::hint::black_box(&big);
    }
}
