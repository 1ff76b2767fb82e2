//! How much memory the broker holds, for `memory_limit`.
//!
//! The resident set size, read from `/proc/self/statm`, sampled by the timer tick and every
//! few thousand messages rather than counted per allocation: a counting allocator cost fan-out
//! 3-4 % for a setting most brokers never use. RSS also counts memory the allocator keeps
//! for reuse, so the limit errs on the safe side.

use std::sync::OnceLock;

/// Bytes resident in memory, or `None` where `/proc` does not tell.
pub fn resident_bytes() -> Option<usize> {
    use std::io::Read;
    // Read onto the stack: with `memory_limit` this runs every tick, and a tick allocates
    // nothing. The file is one short line of numbers.
    let mut buf = [0u8; 256];
    let n = std::fs::File::open("/proc/self/statm")
        .ok()?
        .read(&mut buf)
        .ok()?;
    let statm = std::str::from_utf8(&buf[..n]).ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// Asks the allocator to return free memory to the system. glibc keeps freed memory for
/// reuse; after a storm of connections that is most of the peak.
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size)
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(4096)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_a_resident_size() {
        let rss = super::resident_bytes().expect("/proc/self/statm");
        assert!(rss > 1024 * 1024, "{rss} bytes resident");
    }
}
