//! Just enough HTML to fill in a provider's login or consent form: the `<form>` elements, their
//! `action`, and their `<input>` and `<button>` fields with entity-decoded values.

/// One `<input>` or `<button>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// `input` or `button`.
    pub(crate) tag: String,
    /// The `type` attribute, lowercased (`text` for an input without one, `submit` for a button).
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) value: String,
}

/// One `<form>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Form {
    /// As written (entity-decoded); empty means "this page".
    pub(crate) action: String,
    /// Lowercased; `get` when absent.
    pub(crate) method: String,
    pub(crate) fields: Vec<Field>,
}

impl Form {
    /// The value of the first field named `name`.
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    /// Whether the form has a password field.
    pub(crate) fn has_password(&self) -> bool {
        self.fields.iter().any(|f| f.kind == "password")
    }
}

/// Every form in `html`, in document order.
pub(crate) fn forms(html: &str) -> Vec<Form> {
    // ASCII lowercasing keeps byte offsets, so positions found in `lower` index `html`.
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = find_tag(&lower, at, "form") {
        let Some((attrs, open_end)) = tag_attributes(html, start + "<form".len()) else {
            break;
        };
        let close = lower[open_end..]
            .find("</form")
            .map_or(html.len(), |i| open_end + i);
        let body = &html[open_end..close];
        let body_lower = &lower[open_end..close];
        let attr = |name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        found.push(Form {
            action: attr("action").unwrap_or_default(),
            method: attr("method")
                .unwrap_or_else(|| "get".into())
                .to_ascii_lowercase(),
            fields: fields(body, body_lower),
        });
        at = close.max(open_end);
    }
    found
}

fn fields(body: &str, lower: &str) -> Vec<Field> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let next_input = find_tag(lower, at, "input");
        let next_button = find_tag(lower, at, "button");
        let (start, tag) = match (next_input, next_button) {
            (Some(i), Some(b)) if b < i => (b, "button"),
            (Some(i), _) => (i, "input"),
            (None, Some(b)) => (b, "button"),
            (None, None) => break,
        };
        let Some((attrs, end)) = tag_attributes(body, start + 1 + tag.len()) else {
            break;
        };
        at = end;
        let attr = |name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let Some(name) = attr("name") else { continue };
        let default_kind = if tag == "button" { "submit" } else { "text" };
        out.push(Field {
            tag: tag.to_owned(),
            kind: attr("type")
                .unwrap_or_else(|| default_kind.into())
                .to_ascii_lowercase(),
            name,
            value: attr("value").unwrap_or_default(),
        });
    }
    out
}

/// The position of the next `<name` that is a whole tag name (`<input`, not `<inputs`).
fn find_tag(lower: &str, from: usize, name: &str) -> Option<usize> {
    let needle = format!("<{name}");
    let mut at = from;
    while let Some(i) = lower.get(at..)?.find(&needle) {
        let start = at + i;
        let after = lower.as_bytes().get(start + needle.len()).copied();
        if after.is_none_or(|c| c.is_ascii_whitespace() || c == b'>' || c == b'/') {
            return Some(start);
        }
        at = start + needle.len();
    }
    None
}

/// Parses attributes from `at` (just after the tag name) to the closing `>`.
/// Returns them (names lowercased, values decoded) and the offset after `>`.
fn tag_attributes(html: &str, mut at: usize) -> Option<(Vec<(String, String)>, usize)> {
    let bytes = html.as_bytes();
    let mut attrs = Vec::new();
    loop {
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'/') {
            at += 1;
        }
        match bytes.get(at)? {
            b'>' => return Some((attrs, at + 1)),
            _ => {
                let name_start = at;
                while at < bytes.len()
                    && !bytes[at].is_ascii_whitespace()
                    && !matches!(bytes[at], b'=' | b'>' | b'/')
                {
                    at += 1;
                }
                let name = html[name_start..at].to_ascii_lowercase();
                while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                    at += 1;
                }
                let mut value = String::new();
                if bytes.get(at) == Some(&b'=') {
                    at += 1;
                    while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                        at += 1;
                    }
                    match bytes.get(at)? {
                        q @ (b'"' | b'\'') => {
                            let end = at + 1 + html[at + 1..].find(*q as char)?;
                            value = decode_entities(&html[at + 1..end]);
                            at = end + 1;
                        }
                        _ => {
                            let start = at;
                            while at < bytes.len()
                                && !bytes[at].is_ascii_whitespace()
                                && bytes[at] != b'>'
                            {
                                at += 1;
                            }
                            value = decode_entities(&html[start..at]);
                        }
                    }
                }
                if !name.is_empty() {
                    attrs.push((name, value));
                }
            }
        }
    }
}

/// Decodes the character references that templates emit in attribute values.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sesame_login_form() {
        let html = r#"<html><body><h1>Sign in</h1>
        <FORM method="post" action="http:&#x2f;&#x2f;127.0.0.1:8000&#x2f;login">
          <input type="hidden" name="csrf_token" value="abc-_123">
          <input type=hidden name=return_to value="/authorize?client_id=x&amp;state=y">
          <label>Username <input name="username" autocomplete="username" required></label>
          <input type="password" name="password">
          <button type="submit">Sign in</button>
        </form><form action="/other"><button name="deny" value="1">No</button></form></body></html>"#;
        let forms = forms(html);
        assert_eq!(forms.len(), 2);
        let login = &forms[0];
        assert_eq!(login.action, "http://127.0.0.1:8000/login");
        assert_eq!(login.method, "post");
        assert_eq!(login.value("csrf_token"), Some("abc-_123"));
        assert_eq!(
            login.value("return_to"),
            Some("/authorize?client_id=x&state=y")
        );
        assert_eq!(login.value("username"), Some(""));
        assert!(login.has_password());
        // The unnamed button is not a field.
        assert_eq!(login.fields.len(), 4);
        let other = &forms[1];
        assert_eq!(other.method, "get");
        assert_eq!(
            other.fields,
            vec![Field {
                tag: "button".into(),
                kind: "submit".into(),
                name: "deny".into(),
                value: "1".into()
            }]
        );
    }

    #[test]
    fn tag_names_are_whole_words() {
        let html = r#"<formula></formula><form action='a'><inputs name="x"><input name='y' value='1'/></form>"#;
        let forms = forms(html);
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].action, "a");
        assert_eq!(forms[0].fields.len(), 1);
        assert_eq!(forms[0].value("y"), Some("1"));
    }

    #[test]
    fn entities() {
        assert_eq!(decode_entities("a&amp;b&#47;c&#x2F;d&quot;"), "a&b/c/d\"");
        assert_eq!(
            decode_entities("fish & chips &unknown; &"),
            "fish & chips &unknown; &"
        );
        assert_eq!(decode_entities("no entities"), "no entities");
    }

    #[test]
    fn truncated_markup_does_not_panic() {
        for html in [
            "<form",
            "<form action=\"x",
            "<form><input name=",
            "<form><input name=\"a\"",
        ] {
            let _ = forms(html);
        }
    }
}
