//! The `sesame` binary: everything lives in the library.

/// mimalloc, not the system allocator (feature `mimalloc`, on by default):
/// faster on the sign-in path at the same idle memory (BENCHMARKS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sesame_server::cli::main()
}
