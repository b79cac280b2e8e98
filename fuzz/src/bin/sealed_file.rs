//! Fuzz target `sealed_file`: see `sealdb::fuzzing::sealed_file`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb::fuzzing::sealed_file(data));
}
