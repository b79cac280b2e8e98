//! Fuzz target `log_segment`: see `sealdb::fuzzing::log_segment`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb::fuzzing::log_segment(data));
}
