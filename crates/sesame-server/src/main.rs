//! The `sesame` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    sesame_server::cli::main()
}
