//! YAML text for the collection's generated files (the sidecar docs
//! `plugins/modules/<module>.yml` and `meta/runtime.yml`), in the layout
//! ansible-lint's yamllint rules expect: two spaces per level, sequences
//! indented under their key (`indent-sequences: true`), and long strings folded
//! into lines of at most [`WIDTH`] columns (`line-length` allows 160).
//!
//! serde_yaml writes sequences flush with their key and every string on one
//! line; it is still used here for what it does right: quoting a scalar.

use serde_yaml::Value;

/// The column a folded string wraps at (yamllint's limit in ansible-lint is 160).
pub const WIDTH: usize = 100;

/// The YAML document of `v` (a mapping or a sequence), ending with a newline.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Mapping(m) if !m.is_empty() => mapping(&mut out, m, 0),
        Value::Sequence(s) if !s.is_empty() => sequence(&mut out, s, 0),
        Value::Tagged(t) => return to_string(&t.value),
        other => {
            out.push_str(&scalar(other, 0, 0));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A mapping whose keys start at column `indent`.
fn mapping(out: &mut String, m: &serde_yaml::Mapping, indent: usize) {
    for (k, v) in m {
        pad(out, indent);
        let key = quoted(k);
        out.push_str(&key);
        out.push(':');
        value_after(out, v, indent, indent + key.chars().count() + 2);
    }
}

/// A sequence whose `- ` starts at column `indent`.
fn sequence(out: &mut String, s: &[Value], indent: usize) {
    for item in s {
        pad(out, indent);
        out.push('-');
        match item {
            Value::Mapping(m) if !m.is_empty() => {
                // The first key on the dash's line, the others under it.
                let mut inner = String::new();
                mapping(&mut inner, m, indent + 2);
                out.push(' ');
                out.push_str(&inner[indent + 2..]);
            }
            Value::Sequence(s) if !s.is_empty() => {
                let mut inner = String::new();
                sequence(&mut inner, s, indent + 2);
                out.push(' ');
                out.push_str(&inner[indent + 2..]);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other, indent + 2, indent + 2));
                out.push('\n');
            }
        }
    }
}

/// What follows `key:` (the key ends at column `col - 2`): a nested block on the next
/// lines, or a scalar on the same line.
fn value_after(out: &mut String, v: &Value, indent: usize, col: usize) {
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            mapping(out, m, indent + 2);
        }
        Value::Sequence(s) if !s.is_empty() => {
            out.push('\n');
            sequence(out, s, indent + 2);
        }
        Value::Tagged(t) => value_after(out, &t.value, indent, col),
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent + 2, col));
            out.push('\n');
        }
    }
}

/// A scalar that starts at column `col`; a block scalar's lines are indented by
/// `indent`. Without a trailing newline.
fn scalar(v: &Value, indent: usize, col: usize) -> String {
    match v {
        Value::Mapping(_) => "{}".into(),
        Value::Sequence(_) => "[]".into(),
        Value::String(s) if s.contains('\n') => literal(s, indent),
        Value::String(s) if col.saturating_add(s.chars().count()) > WIDTH && foldable(s) => {
            folded(s, indent)
        }
        other => quoted(other),
    }
}

/// A scalar on one line, quoted where YAML needs it: serde_yaml's quoting (YAML
/// 1.2), plus the plain strings YAML 1.1 (PyYAML, so Ansible and yamllint) reads
/// as something else: `yes`, `off`, `1_000`, `1:30`, ….
fn quoted(v: &Value) -> String {
    let text = serde_yaml::to_string(v)
        .map(|t| t.trim_end_matches('\n').to_string())
        .unwrap_or_else(|_| "null".into());
    match v {
        Value::String(s) if text == *s && yaml11_special(s) => format!("'{s}'"),
        _ => text,
    }
}

/// Whether YAML 1.1 reads the plain scalar `s` as a boolean, null or number.
fn yaml11_special(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
    ];
    WORDS.contains(&s.to_ascii_lowercase().as_str())
        || s.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c))
            && s.chars()
                .all(|c| c.is_ascii_hexdigit() || "xXoObB_:.+-".contains(c))
}

/// Whether `s` survives folding unchanged: single spaces between printable words,
/// nothing at either end.
fn foldable(s: &str) -> bool {
    !s.is_empty()
        && s.trim() == s
        && !s.contains("  ")
        && s.chars()
            .all(|c| c == ' ' || !c.is_control() && !c.is_whitespace())
}

/// `>-` and the words of `s`, wrapped at [`WIDTH`] (a word longer than a line
/// stands alone on its line).
fn folded(s: &str, indent: usize) -> String {
    let mut out = String::from(">-");
    let mut line = String::new();
    for word in s.split(' ') {
        if !line.is_empty() && indent + line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push('\n');
            pad(&mut out, indent);
            out.push_str(&line);
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push('\n');
    pad(&mut out, indent);
    out.push_str(&line);
    out
}

/// A multi-line string as a literal block (`|`), or double-quoted when a block
/// cannot carry it exactly (leading spaces on its first line, control characters,
/// trailing spaces).
fn literal(s: &str, indent: usize) -> String {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let first = body.lines().find(|l| !l.is_empty()).unwrap_or("");
    let plain = !body.is_empty()
        && !first.starts_with(' ')
        && body.lines().all(|l| l.trim_end() == l)
        && body.chars().all(|c| c == '\n' || !c.is_control());
    if !plain {
        return serde_json::to_string(s).unwrap_or_else(|_| "''".into());
    }
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}");
    for l in body.lines() {
        out.push('\n');
        if !l.is_empty() {
            pad(&mut out, indent);
            out.push_str(l);
        }
    }
    for _ in 1..trailing {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &Value) -> String {
        let text = to_string(v);
        let back: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(&back, v, "{text}");
        text
    }

    #[test]
    fn sequences_are_indented_under_their_key_and_in_sequences() {
        let v: Value = serde_yaml::from_str(
            "a:\n  b: [x, {c: 1, d: [y, z]}, [p, q]]\n  e: {}\n  f: []\nlist: [1, true, null, 'yes', 'Off', '1_0', '1:30', '.5']\n",
        )
        .unwrap();
        let text = round_trip(&v);
        assert_eq!(
            text,
            "a:\n  b:\n    - x\n    - c: 1\n      d:\n        - 'y'\n        - z\n    - - p\n      - q\n  \
             e: {}\n  f: []\nlist:\n  - 1\n  - true\n  - null\n  - 'yes'\n  - 'Off'\n  - '1_0'\n  - '1:30'\n  - '.5'\n"
        );
    }

    #[test]
    fn long_strings_fold_at_the_width_and_read_back_unchanged() {
        let long = "word ".repeat(60).trim_end().to_string() + " C(x: y) 'q' # not a comment";
        let url = format!("see https://example.com/{}", "p".repeat(150));
        let odd = format!("two  spaces {}", "z ".repeat(80));
        let v: Value = serde_yaml::from_str(&format!(
            "k:\n  description: [{long:?}, {url:?}]\n  odd: {odd:?}\n"
        ))
        .unwrap();
        let text = round_trip(&v);
        assert!(text.contains("description:\n    - >-\n"), "{text}");
        for line in text.lines() {
            let one_word = !line.trim().contains(' ');
            assert!(line.chars().count() <= WIDTH || one_word || line.contains("two  spaces"));
        }
    }

    #[test]
    fn multi_line_strings_are_literal_blocks_with_their_trailing_newlines() {
        for s in [
            "a\nb",
            "a\n\n  b\n",
            "a\nb\n\n\n",
            "  lead\nx",
            "tab\t\nx",
            "trail \nx",
        ] {
            let v: Value = serde_yaml::from_str(&format!("- k: {s:?}\n  j: 1\n")).unwrap();
            round_trip(&v);
        }
        let v: Value = serde_yaml::from_str("EXAMPLES: \"- name: x\\n  debug:\\n\"").unwrap();
        assert_eq!(to_string(&v), "EXAMPLES: |\n  - name: x\n    debug:\n");
    }
}
