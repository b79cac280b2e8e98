//! `include/sealdb.h` is current: regenerates it with cbindgen (library)
//! and compares. `SEALDB_BLESS=1 cargo test -p sealdb-ffi --test header`
//! writes the new header instead.

use std::path::Path;

#[test]
fn header_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("read ffi/cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = crate_dir.join("../include/sealdb.h");
    if std::env::var_os("SEALDB_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/sealdb.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/sealdb.h is out of date with ffi/src; regenerate it with\n    SEALDB_BLESS=1 cargo test -p sealdb-ffi --test header\nand commit it"
    );
}
