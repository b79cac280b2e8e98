//! The layer rule of docs/architecture.md, checked on the source: every
//! `crate::<module>` path in a file under `src/<layer>/` names a layer the
//! table below allows. A new arrow that points up fails here, with the file
//! that draws it; the table and the document change together.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What each layer may name (besides itself). `None`: everything below it.
/// Mirrors the import table in docs/architecture.md.
const ALLOWED: &[(&str, Option<&[&str]>)] = &[
    ("db", None),
    ("fuzzing", None),
    // raft/: the committer hook and install gate (txn), its own log store
    // (storage, vfs, crypto); audit and catalog name keys in its tests.
    // The transport itself names only error.
    (
        "repl",
        Some(&[
            "txn", "storage", "vfs", "crypto", "audit", "catalog", "error", "key_id",
        ]),
    ),
    (
        "backup",
        Some(&["audit", "storage", "vfs", "crypto", "error", "key_id"]),
    ),
    (
        "sql",
        Some(&[
            "catalog", "syntax", "auth", "txn", "encoding", "types", "storage", "depth", "error",
            "key_id",
        ]),
    ),
    (
        "catalog",
        Some(&["syntax", "encoding", "types", "error", "key_id"]),
    ),
    (
        "syntax",
        Some(&["auth", "types", "crypto", "depth", "error", "key_id"]),
    ),
    ("auth", Some(&["error", "key_id"])),
    ("audit", Some(&["storage", "vfs", "error", "key_id"])),
    ("txn", Some(&["storage", "error", "key_id"])),
    ("encoding", Some(&["types", "storage", "error", "key_id"])),
    ("types", Some(&["error"])),
    ("storage", Some(&["vfs", "crypto", "error", "key_id"])),
    ("vfs", Some(&["crypto", "error", "key_id"])),
    ("crypto", Some(&["error", "key_id"])),
    ("error", Some(&["key_id"])),
    ("depth", Some(&["error", "key_id"])),
    ("key_id", Some(&[])),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules a file names as `crate::<module>`, outside `//` comments'
/// prose (doc links name modules without importing them).
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let tail = &rest[at + "crate::".len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
            rest = tail;
        }
    }
    out
}

#[test]
fn every_import_arrow_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut seen_layers = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel
            .components()
            .next()
            .expect("a component")
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let layer = first.trim_end_matches(".rs").to_string();
        if layer == "lib" {
            continue;
        }
        seen_layers.insert(layer.clone());
        let Some((_, allowed)) = ALLOWED.iter().find(|(l, _)| *l == layer) else {
            violations.push(format!(
                "{}: layer `{layer}` is not in the layer table (add it to docs/architecture.md and this test)",
                rel.display()
            ));
            continue;
        };
        let Some(allowed) = allowed else { continue };
        let text = std::fs::read_to_string(file).expect("read source");
        for module in named_modules(&text) {
            if module != layer && !allowed.contains(&module.as_str()) {
                violations.push(format!(
                    "{}: layer `{layer}` names `crate::{module}`",
                    rel.display()
                ));
            }
        }
    }
    assert!(seen_layers.len() > 10, "found the layers: {seen_layers:?}");
    assert!(
        violations.is_empty(),
        "imports that point up the layers:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_an_upward_import() {
    let found =
        named_modules("use crate::sql::plan;\n// crate::db in prose\nlet x = crate::auth::ROOT;");
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        vec!["auth".to_string(), "sql".to_string()]
    );
}
