//! Fuzz target `key_registry`: see `sealdb::fuzzing::key_registry`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb::fuzzing::key_registry(data));
}
