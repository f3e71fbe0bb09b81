//! A LIST answer taken apart while it is received: [`ItemSplitter`] is fed the body chunk
//! by chunk and parses each item of `items` as soon as its last byte is in, so the run
//! never holds the whole answer (4.6 MB for 1,000 MachineSets from a real API server,
//! `managedFields` included) next to the parsed objects: only the bytes of the item being
//! received are kept.

use serde_json::Value;

/// Splits a LIST answer (`{"kind": …, "metadata": {…}, "items": [{…}, …]}`) into its
/// items, parsing each with `parse` when complete. Everything outside `items` is only
/// scanned (strings, escapes and brackets), not kept. An answer that is not one JSON
/// object, or ends before its last bracket, is an error.
pub struct ItemSplitter<F> {
    parse: F,
    /// Bytes not yet consumed: from the start of the item being received, else empty.
    buf: Vec<u8>,
    /// Bracket depth (`{` and `[`) outside strings: 1 inside the answer, 2 inside `items`.
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// At depth 1, the next string is a key (after `{` or `,`).
    expect_key: bool,
    /// The key being read at depth 1 (only the first bytes of long keys matter).
    key: Vec<u8>,
    reading_key: bool,
    /// The value at depth 1 being read belongs to the key `items`.
    items_value: bool,
    /// Inside the `items` array.
    in_items: bool,
    /// Where the item being received starts in `buf`.
    item_start: Option<usize>,
    /// The answer's closing bracket was seen.
    closed: bool,
    /// Every byte fed so far was whitespace.
    started: bool,
}

fn error(msg: &str) -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::custom(msg)
}

impl<F: FnMut(&[u8]) -> serde_json::Result<Value>> ItemSplitter<F> {
    /// A splitter that parses each item's bytes with `parse`.
    pub fn new(parse: F) -> Self {
        ItemSplitter {
            parse,
            buf: Vec::new(),
            depth: 0,
            in_string: false,
            escaped: false,
            expect_key: false,
            key: Vec::new(),
            reading_key: false,
            items_value: false,
            in_items: false,
            item_start: None,
            closed: false,
            started: false,
        }
    }

    /// Takes the next chunk of the answer; the items completed by it go into `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Value>) -> serde_json::Result<()> {
        let from = self.buf.len();
        self.buf.extend_from_slice(chunk);
        for i in from..self.buf.len() {
            let c = self.buf[i];
            if self.in_string {
                self.string_byte(c);
                continue;
            }
            if c.is_ascii_whitespace() {
                continue;
            }
            if self.closed {
                return Err(error("trailing characters after the LIST answer"));
            }
            if !self.started {
                if c != b'{' {
                    return Err(error("a LIST answer must be a JSON object"));
                }
                self.started = true;
            }
            self.structural(c, i, out)?;
        }
        // Keep only the item being received.
        match self.item_start {
            Some(s) => {
                self.buf.drain(..s);
                self.item_start = Some(0);
            }
            None => self.buf.clear(),
        }
        Ok(())
    }

    /// The end of the answer: an error when it stopped before its last bracket.
    pub fn finish(self) -> serde_json::Result<()> {
        if self.closed {
            Ok(())
        } else {
            Err(error("the LIST answer ended early (EOF while parsing)"))
        }
    }

    fn string_byte(&mut self, c: u8) {
        if self.escaped {
            self.escaped = false;
        } else if c == b'\\' {
            self.escaped = true;
        } else if c == b'"' {
            self.in_string = false;
            self.reading_key = false;
            return;
        }
        if self.reading_key && self.key.len() < 8 {
            self.key.push(c);
        }
    }

    /// A byte outside strings (not whitespace) at position `i` of `buf`.
    fn structural(&mut self, c: u8, i: usize, out: &mut Vec<Value>) -> serde_json::Result<()> {
        if self.depth == 2
            && self.in_items
            && self.item_start.is_none()
            && !matches!(c, b',' | b']')
        {
            self.item_start = Some(i);
        }
        match c {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.expect_key {
                    self.reading_key = true;
                    self.key.clear();
                }
            }
            b'{' | b'[' => {
                if self.depth == 1 && c == b'[' && self.items_value {
                    self.in_items = true;
                }
                self.depth += 1;
                if self.depth == 1 {
                    self.expect_key = true;
                }
            }
            b'}' | b']' => {
                if self.depth == 2 && self.in_items {
                    self.end_item(i, out)?;
                    self.in_items = false;
                }
                self.depth = self
                    .depth
                    .checked_sub(1)
                    .ok_or_else(|| error("unbalanced brackets in the LIST answer"))?;
                if self.depth == 0 {
                    self.closed = true;
                }
            }
            b':' if self.depth == 1 => {
                self.expect_key = false;
                self.items_value = self.key == b"items";
            }
            b',' if self.depth == 1 => {
                self.expect_key = true;
                self.items_value = false;
            }
            b',' if self.depth == 2 && self.in_items => self.end_item(i, out)?,
            _ => {}
        }
        Ok(())
    }

    /// The item that started at `item_start` ends before `end`: parse it.
    fn end_item(&mut self, end: usize, out: &mut Vec<Value>) -> serde_json::Result<()> {
        if let Some(start) = self.item_start.take() {
            out.push((self.parse)(&self.buf[start..end])?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(text: &str, chunk: usize) -> serde_json::Result<Vec<Value>> {
        let mut s = ItemSplitter::new(|b: &[u8]| serde_json::from_slice(b));
        let mut out = Vec::new();
        for c in text.as_bytes().chunks(chunk.max(1)) {
            s.feed(c, &mut out)?;
        }
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn items_come_out_whole_at_any_chunk_size() {
        let items = json!([
            {"metadata": {"name": "a", "annotations": {"x": "}]\"[{,:items"}}, "spec": [1, [2, {}]]},
            {"metadata": {"name": "b\\\"", "labels": {}}, "items": [{"deep": "items"}]},
            "a string item",
            7,
            null
        ]);
        let text = format!(
            r#" {{"kind":"MachineSetList","apiVersion":"v1","metadata":{{"resourceVersion":"5","items":["no"]}},
               "x\"items":[{{"not":"this"}}], "items" : {items} , "after": {{"items": [1]}} }} "#
        );
        for chunk in [1, 2, 3, 7, 64, 100_000] {
            let got = split(&text, chunk).unwrap();
            assert_eq!(Value::Array(got), items, "chunk size {chunk}");
        }
    }

    #[test]
    fn no_items_is_empty() {
        for text in [
            r#"{"kind":"List","items":null}"#,
            r#"{"kind":"List"}"#,
            r#"{"kind":"List","items":[]}"#,
            r#"{"items":[ ]}"#,
        ] {
            assert!(split(text, 3).unwrap().is_empty(), "{text}");
        }
    }

    #[test]
    fn broken_answers_are_errors() {
        for text in [
            r#"{"kind":"List","items":[{"a":1}"#,
            r#"{"kind":"List","items":[{"a":1},{"b":}]}"#,
            r#"[{"a":1}]"#,
            r#"{"items":[]} {"#,
            "",
        ] {
            assert!(split(text, 4).is_err(), "{text}");
        }
    }

    #[test]
    fn only_the_item_being_received_is_kept() {
        let item = json!({"metadata": {"name": "x"}, "spec": {"pad": "y".repeat(1000)}});
        let list = json!({"kind": "List", "items": vec![item.clone(); 50]}).to_string();
        let mut s = ItemSplitter::new(|b: &[u8]| serde_json::from_slice(b));
        let mut out = Vec::new();
        let mut most = 0;
        for c in list.as_bytes().chunks(100) {
            s.feed(c, &mut out).unwrap();
            most = most.max(s.buf.len());
        }
        s.finish().unwrap();
        assert_eq!(out.len(), 50);
        assert!(most < item.to_string().len() + 100, "{most}");
    }
}
