//! Fuzz target `log_record`: see `sealdb::fuzzing::log_record`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb::fuzzing::log_record(data));
}
