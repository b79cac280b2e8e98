//! Fuzz target `manifest_edit`: see `sealdb::fuzzing::manifest_edit`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb::fuzzing::manifest_edit(data));
}
