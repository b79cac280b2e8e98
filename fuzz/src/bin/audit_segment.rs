//! Fuzz target `audit_segment`: see `sealdb::fuzzing::audit_segment`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb::fuzzing::audit_segment(data));
}
