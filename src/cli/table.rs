//! Plain text tables as `kubectl get` prints them — a header of upper-case names, columns
//! aligned with three spaces between them, no box drawing and no wrapping: a long cell
//! widens its column, it is never broken or cut — and prose wrapped at word boundaries
//! to the terminal's width (80 when it is unknown), never inside a word.

use std::io::IsTerminal;

use unicode_width::UnicodeWidthStr;

/// The width assumed when the terminal's is unknown (not a terminal, or a terminal
/// without a size, as some CI runners and `script` give).
pub const UNKNOWN_WIDTH: usize = 80;

/// Spaces between two columns (`kubectl get` has three).
const GAP: usize = 3;

/// What a table shows: the useful columns, or every column (`-o wide`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// `-o wide`: every column.
    pub wide: bool,
    /// The width prose is wrapped at (tables are never wrapped).
    pub width: usize,
}

impl Layout {
    /// The layout for stdout: its terminal's width, else [`UNKNOWN_WIDTH`].
    pub fn for_stdout(wide: bool) -> Layout {
        Layout {
            wide,
            width: stdout_width().unwrap_or(UNKNOWN_WIDTH),
        }
    }
}

/// The width of stdout's terminal; None when stdout is no terminal or one without a size.
fn stdout_width() -> Option<usize> {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(stdout).map(|(w, _)| usize::from(w.0))
}

/// How many terminal columns `text` takes.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// Rows under a header, rendered as aligned columns.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; an empty cell shows as `-` (every cell one token, for `awk`), and line
    /// breaks in a cell become spaces.
    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .map(|c| {
                let c = c.replace(['\n', '\r', '\t'], " ");
                if c.trim().is_empty() {
                    "-".to_string()
                } else {
                    c
                }
            })
            .collect();
        self.rows.push(cells);
    }

    /// The table, one line per row after the header, each ending in a newline; no
    /// trailing spaces.
    pub fn render(&self) -> String {
        let columns = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.header.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; columns];
        for line in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in line.iter().enumerate() {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.header).chain(&self.rows) {
            let mut text = String::new();
            for (i, cell) in line.iter().enumerate() {
                text.push_str(cell);
                if i + 1 < line.len() {
                    let pad = widths[i] - width(cell) + GAP;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `text` wrapped at spaces to `width` columns, each line ending in a newline: the first
/// line starts at column 0, the next ones are indented by `indent` spaces. A word longer
/// than a line stands alone on its line, whole (it is never broken). Facts stay together
/// where they can: a part that starts with `·` or follows a `;` moves whole to the next
/// line when it would not fit on this one but fits on a line of its own.
pub fn wrap(text: &str, width: usize, indent: usize) -> String {
    wrap_at(text, width, 0, indent)
}

/// The parts of `text` [`wrap`] keeps together: split before each `·` and after each `;`.
fn parts(text: &str) -> Vec<Vec<&str>> {
    let mut parts: Vec<Vec<&str>> = vec![Vec::new()];
    for word in text.split_whitespace() {
        if word == "·" {
            parts.push(Vec::new());
        }
        if let Some(p) = parts.last_mut() {
            p.push(word);
        }
        if word.ends_with(';') {
            parts.push(Vec::new());
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// As [`wrap`], the first line indented by `first` spaces and the next ones by `rest`.
pub fn wrap_at(text: &str, width: usize, first: usize, rest: usize) -> String {
    let mut out = String::new();
    let mut line = " ".repeat(first);
    let mut used = first;
    let mut at_start = true;
    let mut new_line = |line: &mut String, used: &mut usize, at_start: &mut bool| {
        out.push_str(line);
        out.push('\n');
        *line = " ".repeat(rest);
        *used = rest;
        *at_start = true;
    };
    for part in parts(text) {
        let part_width = part.iter().map(|w| self::width(w) + 1).sum::<usize>() - 1;
        if !at_start && used + 1 + part_width > width && rest + part_width <= width {
            new_line(&mut line, &mut used, &mut at_start);
        }
        for word in part {
            let w = self::width(word);
            if !at_start && used + 1 + w > width {
                new_line(&mut line, &mut used, &mut at_start);
            }
            if !at_start {
                line.push(' ');
                used += 1;
            }
            line.push_str(word);
            used += w;
            at_start = false;
        }
    }
    if !at_start {
        new_line(&mut line, &mut used, &mut at_start);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_with_three_spaces_and_never_wrapped() {
        let mut t = Table::new(&["NAME", "STATUS", "CURRENT"]);
        t.row(vec![
            "a-very-long-machineset-name".into(),
            "outdated".into(),
            "x".into(),
        ]);
        t.row(vec![
            "b".into(),
            String::new(),
            "418.94.202501221327-0".into(),
        ]);
        assert_eq!(
            t.render(),
            "NAME                          STATUS     CURRENT\n\
             a-very-long-machineset-name   outdated   x\n\
             b                             -          418.94.202501221327-0\n"
        );
    }

    #[test]
    fn prose_wraps_between_words_with_a_hanging_indent() {
        let text = "not compliant: 4 outdated MachineSet(s): build09-kcxpl-worker-aarch64-us-east-2a, build09-kcxpl-worker-us-east-1a";
        let wrapped = wrap(text, 40, 2);
        assert_eq!(
            wrapped,
            "not compliant: 4 outdated MachineSet(s):\n  \
             build09-kcxpl-worker-aarch64-us-east-2a,\n  \
             build09-kcxpl-worker-us-east-1a\n"
        );
        // A word longer than the width stands alone, whole.
        let long = "x".repeat(50);
        assert_eq!(
            wrap(&format!("a {long} b"), 20, 2),
            format!("a\n  {long}\n  b\n")
        );
        assert_eq!(wrap("", 20, 2), "");
        // A fact after `·` or `;` moves whole to the next line when it fits there.
        assert_eq!(
            wrap(
                "Update: none · desired 4.18.1 · last completed 4.18.1",
                40,
                2
            ),
            "Update: none · desired 4.18.1\n  · last completed 4.18.1\n"
        );
        assert_eq!(
            wrap(
                "not compliant: a b c; stub Ignition needs migration; x",
                34,
                2
            ),
            "not compliant: a b c;\n  stub Ignition needs migration; x\n"
        );
        // Words are kept, in order.
        let words: Vec<&str> = wrapped.split_whitespace().collect();
        assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
    }
}
