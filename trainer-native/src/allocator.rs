//! How the process's allocator treats freed memory.

/// Keeps freed memory in the process instead of handing large blocks back to the OS. A training
/// step frees and allocates the same activation-sized buffers (megabytes each) over and over; by
/// default glibc serves blocks that large with fresh `mmap`s and trims its heaps after frees, so
/// every reuse faults its pages in again: ~7 % of a ResNet-32 CPU step was spent in the kernel
/// doing that (docs/BENCHMARKS.md). Peak memory stays what it was: only memory that was in use a
/// moment before is kept. Other platforms keep their allocator's defaults.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets tuning parameters of glibc's allocator, under its own locks.
    unsafe {
        // The largest threshold glibc accepts (32 MiB on 64-bit); setting it also stops glibc
        // from moving it on its own.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
    }
}
