//! Fuzz target `table_file`: see `sealdb::fuzzing::table_file`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb::fuzzing::table_file(data));
}
