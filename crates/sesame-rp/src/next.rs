//! The `next` parameter: where to go after login. Only same-origin relative paths.

/// Whether `next` is a safe same-origin relative path: it starts with a
/// single `/`, is not `//host` or `/\host` (which browsers treat as another
/// host), has no scheme, backslash or control character, and is not absurdly long.
///
/// ```
/// use sesame_rp::is_safe_next;
/// assert!(is_safe_next("/account?tab=keys"));
/// for bad in ["//evil.test", "/\\evil.test", "https://evil.test", "javascript:alert(1)", "evil", "/\tx"] {
///     assert!(!is_safe_next(bad), "{bad}");
/// }
/// ```
pub fn is_safe_next(next: &str) -> bool {
    let bytes = next.as_bytes();
    bytes.first() == Some(&b'/')
        && bytes.get(1) != Some(&b'/')
        && bytes.get(1) != Some(&b'\\')
        && next.len() <= 2048
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c == ' ')
        // A percent-encoded slash or backslash right after the first one is
        // decoded by some frameworks into `//`.
        && !next.get(1..4).is_some_and(|s| s.eq_ignore_ascii_case("%2f") || s.eq_ignore_ascii_case("%5c"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_redirect_attempts() {
        for bad in [
            "//evil.test",
            "/\\evil.test",
            "https://evil.test",
            "javascript:alert(1)",
            "",
            "evil.test/",
            "/%2fevil.test",
            "/%5Cevil.test",
            "/\nLocation: x",
            "/ok\\..\\",
            "\\\\evil",
        ] {
            assert!(!is_safe_next(bad), "{bad:?}");
        }
        for good in ["/", "/a/b?c=d#e", "/search?q=%2F"] {
            assert!(is_safe_next(good), "{good:?}");
        }
    }
}
