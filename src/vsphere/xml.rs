//! A small XML tree for the vSphere SOAP answers (owns: parsing an answer into `Node`s,
//! writing a `Node` back as request XML, escaping values). It knows nothing of vSphere
//! calls; answers are small (a few KiB), so a tree is simpler than streaming.
//!
//! Names are local names (prefixes dropped). The one prefixed attribute the vSphere API
//! uses, `xsi:type` (vcsim spells its prefix `XMLSchema-instance:`), is kept apart from
//! the plain `type` attribute of a managed object reference; other prefixed attributes
//! (an OVF's `ovf:name`) are kept under their local name.

use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// One element: local name, `xsi:type`, its other (unprefixed) attributes, its text and
/// its child elements in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    pub name: String,
    pub xsi_type: Option<String>,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first descendant reached by following `path` (child names).
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |n, p| n.child(p))
    }

    /// The text of the child `name`, if present.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// An unprefixed attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first descendant (depth first, self included) named `name`.
    pub fn find(&self, name: &str) -> Option<&Node> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// This element as XML under another name (the `xsi:` prefix must be declared by the
    /// envelope around it, as `soap::envelope` does).
    pub fn to_xml_as(&self, name: &str) -> String {
        let mut out = String::new();
        self.write(name, &mut out);
        out
    }

    fn write(&self, name: &str, out: &mut String) {
        out.push('<');
        out.push_str(name);
        for (k, v) in &self.attrs {
            out.push_str(&format!(" {k}=\"{}\"", escape(v.as_str())));
        }
        if let Some(t) = &self.xsi_type {
            out.push_str(&format!(" xsi:type=\"{}\"", escape(t.as_str())));
        }
        out.push('>');
        out.push_str(&escape(self.text.as_str()));
        for c in &self.children {
            c.write(&c.name, out);
        }
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

/// Parses a whole document into its root element.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("XML error at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) => stack.push(start(&e)?),
            Event::Empty(e) => {
                let node = start(&e)?;
                close(node, &mut stack, &mut root);
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("an end tag without a start tag")?;
                close(node, &mut stack, &mut root);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml_content(XmlVersion::Implicit1_0));
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml_content(XmlVersion::Implicit1_0));
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&r.xml_content(XmlVersion::Implicit1_0))
                        .ok_or_else(|| {
                            format!(
                                "unknown entity &{};",
                                r.xml_content(XmlVersion::Implicit1_0)
                            )
                        })?
                        .to_string(),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    root.ok_or_else(|| "no root element".to_string())
}

fn close(node: Node, stack: &mut [Node], root: &mut Option<Node>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

fn start(e: &BytesStart<'_>) -> Result<Node, String> {
    let mut node = Node {
        name: e.local_name().as_ref().to_string(),
        ..Node::default()
    };
    for attr in e.attributes() {
        let attr = attr.map_err(|err| err.to_string())?;
        let key = attr.key;
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| err.to_string())?
            .into_owned();
        match key.prefix() {
            Some(p) if p.as_ref() == "xmlns" => {}
            Some(_) if key.local_name().as_ref() == "type" => node.xsi_type = Some(value),
            Some(_) => node
                .attrs
                .push((key.local_name().as_ref().to_string(), value)),
            None if key.as_ref() == "xmlns" => {}
            None => node.attrs.push((key.as_ref().to_string(), value)),
        }
    }
    Ok(node)
}

/// A value escaped for XML text or an attribute.
pub fn esc(value: &str) -> String {
    escape(value).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vcsim_prefixes_entities_and_round_trips_xsi_type() {
        let doc = r#"<?xml version="1.0"?><a xmlns="urn:vim25"><v xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="ManagedObjectReference" type="Folder">f&lt;1&#34;</v><e/></a>"#;
        let n = parse(doc).unwrap();
        let v = n.child("v").unwrap();
        assert_eq!(v.xsi_type.as_deref(), Some("ManagedObjectReference"));
        assert_eq!(v.attr("type"), Some("Folder"));
        assert_eq!(v.text, "f<1\"");
        assert!(n.child("e").is_some());
        assert_eq!(
            v.to_xml_as("w"),
            r#"<w type="Folder" xsi:type="ManagedObjectReference">f&lt;1&quot;</w>"#
        );
    }
}
