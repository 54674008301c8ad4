//! The process's heap policy for training on the CPU.
//!
//! burn's CPU backend allocates a fresh buffer for nearly every tensor a training step makes
//! and frees it within the step. With glibc's defaults, buffers above its dynamic mmap
//! threshold are mapped and unmapped each time and freed heap tops are trimmed back to the
//! kernel, so the next step takes a page fault for every 4 KiB it writes (~5 µs each on the
//! 2-core VM BENCHMARKS.md describes: the LeNet step spent a fifth of its time there). Keeping
//! freed memory in the heap for reuse is what PyTorch's CPU tuning guide gets by switching to
//! jemalloc or tcmalloc; here it is two `mallopt` settings of the allocator already in use.

/// Largest mmap threshold glibc accepts (`HEAP_MAX_SIZE / 2` on 64-bit targets), bytes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: libc::c_int = 32 << 20;

/// Freed memory at the top of the heap kept before trimming, bytes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD_BYTES: libc::c_int = 1 << 30;

/// Keep freed memory for reuse instead of returning it to the kernel: buffers up to 32 MiB come
/// from the heap, and up to 1 GiB of freed heap is kept. Returns whether the policy was applied:
/// not when the user set glibc's malloc tunables (`GLIBC_TUNABLES` naming `glibc.malloc`, or
/// `MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_`), which then win, and not off glibc.
///
/// # Safety
/// Changes allocator settings: call it before any other thread starts.
pub unsafe fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let user_tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc"))
            || std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
            || std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_some();
        if user_tuned {
            return false;
        }
        // SAFETY: mallopt only changes allocator parameters; no other thread allocates yet.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_both_settings_unless_the_user_tuned_malloc() {
        let user_tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc"))
            || std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
            || std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_some();
        // SAFETY: mallopt takes the allocator's own locks; other test threads may allocate.
        assert_eq!(unsafe { super::keep_freed_memory() }, !user_tuned);
    }
}
