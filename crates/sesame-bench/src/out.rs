//! Terminal output (the workspace denies `println!`; a closed pipe is not an error here).

use std::io::Write as _;

/// A line on stdout.
pub(crate) fn println(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// A line on stderr.
pub(crate) fn eprintln(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
