//! Fuzz target `auth_catalog`: see `sealdb::fuzzing::auth_catalog`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb::fuzzing::auth_catalog(data));
}
