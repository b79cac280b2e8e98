//! Fuzz target `table_block`: see `sealdb::fuzzing::table_block`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb::fuzzing::table_block(data));
}
