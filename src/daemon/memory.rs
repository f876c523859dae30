//! Hands the memory a cycle freed back to the kernel.
//!
//! Why: every cycle allocates tens of megabytes that live for a moment (response bodies while
//! they are parsed, parse buffers, feature frames) between the window's long-lived samples.
//! glibc keeps what is freed inside its heaps: a free chunk below a live one can never be
//! returned by shrinking the heap, and after a large block has been freed glibc raises its
//! own trim threshold, so the resident set grew with every cycle's leftovers (measured in the
//! 1,000-target soak: 171 MB taken from the kernel for 103 MB in use, issue 7).
//! `malloc_trim(0)` walks every arena once and returns each whole free page (madvise), so the
//! resident set follows what is in use. It runs after every cycle: the next cycle faults
//! some of those pages back in (perf: ~7 % of the daemon's samples are page faults and
//! madvise), but trimming only every fourth cycle was measured too and was worse: what a cycle
//! frees is not reused well by the next (the window's new vectors land between the leftovers),
//! RSS swung between 212 and 242 MB and peaked at 257 MB, for no CPU saving (both soaks, 1,000
//! targets). Limiting the number of arenas (`MALLOC_ARENA_MAX=2`) changed nothing: the waste
//! is in the main arena, where the loop runs.
//!
//! The one `unsafe` call of the crate lives here (the crate denies `unsafe_code`; this module
//! alone allows it).

/// Returns the allocator's free pages to the kernel (glibc on Linux; nothing elsewhere).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim takes no pointer and has no precondition; it only takes each
    // arena's lock and madvises pages that are free, which no live allocation can touch.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trimming_leaves_live_memory_intact() {
        let big: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 * 1024]).collect();
        let kept = big[7].clone();
        drop(big);
        super::release_free_memory();
        assert!(kept.iter().all(|b| *b == 7), "live memory is untouched");
    }
}
