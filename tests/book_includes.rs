//! The book's code is included from compiled files (`{{#include path:anchor}}`): every include
//! must name an existing file and, if given, an `ANCHOR: name` / `ANCHOR_END: name` pair in it.

use std::path::{Path, PathBuf};

fn includes(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("{{#include ") {
        let after = &rest[start + "{{#include ".len()..];
        let end = after.find("}}").expect("unterminated include");
        out.push(after[..end].trim().to_string());
        rest = &after[end..];
    }
    out
}

#[test]
fn every_book_include_resolves() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).expect("docs/src") {
        let page = entry.expect("entry").path();
        if page.extension().and_then(|e| e.to_str()) != Some("md") {
            continue;
        }
        let text = std::fs::read_to_string(&page).expect("page");
        for inc in includes(&text) {
            let (file, anchor) = match inc.rsplit_once(':') {
                Some((f, a)) if !a.chars().all(|c| c.is_ascii_digit() || c == ':') => (f, Some(a)),
                _ => (inc.as_str(), None),
            };
            let target: PathBuf = src.join(file);
            let body = std::fs::read_to_string(&target).unwrap_or_else(|e| {
                panic!(
                    "{}: include {inc}: {}: {e}",
                    page.display(),
                    target.display()
                )
            });
            if let Some(a) = anchor {
                assert!(
                    body.contains(&format!("ANCHOR: {a}"))
                        && body.contains(&format!("ANCHOR_END: {a}")),
                    "{}: include {inc}: anchor `{a}` not found in {}",
                    page.display(),
                    target.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "the book includes no code");
}
