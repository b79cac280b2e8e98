//! Fuzz target `current`: see `sealdb::fuzzing::current`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb::fuzzing::current(data));
}
