//! Argon2's working memory, reused: a password check takes its blocks (19 MiB
//! with the default parameters) from a pool of at most one buffer per core
//! instead of allocating them.
//!
//! Why (issue 15 part 3, REVIEW L2): glibc raises its mmap threshold to the
//! size of the first large block freed, so later Argon2 buffers came from the
//! heap arenas of whichever blocking thread ran the check, and stayed there:
//! ~250 MiB resident after a burst of 16 logins, with nothing using it. With
//! the pool, the process holds at most [`capacity`] buffers however many
//! logins it has served, and a check no longer pays for an allocation.

use std::num::NonZero;
use std::sync::{Mutex, OnceLock};

use argon2::Block;

/// Buffers larger than this (64 MiB of 1 KiB blocks: a stored hash with an
/// unusually high `m` cost) are allocated for the one check and freed.
const MAX_POOLED_BLOCKS: usize = 64 * 1024;

static POOL: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// How many buffers the pool keeps: one per core, which is how many checks
/// `sesame serve` runs at once (its hashing semaphore). None with
/// `SESAME_ARGON2_POOL=off` in the environment: every check allocates and
/// frees its own, as before the pool (for measuring the difference:
/// `bench/compare.sh --logins`).
pub(crate) fn capacity() -> usize {
    static CAPACITY: OnceLock<usize> = OnceLock::new();
    *CAPACITY.get_or_init(|| {
        if std::env::var_os("SESAME_ARGON2_POOL").is_some_and(|v| v == "off") {
            0
        } else {
            std::thread::available_parallelism().map_or(2, NonZero::get)
        }
    })
}

/// Runs `f` with at least `count` blocks, from the pool when one is free.
pub(super) fn with_blocks<T>(count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let mut blocks = take(count);
    let out = f(&mut blocks);
    give_back(blocks);
    out
}

fn take(count: usize) -> Vec<Block> {
    if count <= MAX_POOLED_BLOCKS
        && let Ok(mut pool) = POOL.lock()
        && let Some(i) = pool.iter().position(|b| b.len() >= count)
    {
        return pool.swap_remove(i);
    }
    vec![Block::new(); count]
}

fn give_back(blocks: Vec<Block>) {
    if blocks.len() > MAX_POOLED_BLOCKS {
        return;
    }
    if let Ok(mut pool) = POOL.lock()
        && pool.len() < capacity()
    {
        pool.push(blocks);
    }
}

/// How many buffers the pool holds now (tests).
#[cfg(test)]
pub(super) fn pooled() -> usize {
    POOL.lock().map_or(0, |p| p.len())
}
