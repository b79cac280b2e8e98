//! Fuzz target `c_abi`: see `sealdb_ffi::fuzz::c_abi`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb_ffi::fuzz::c_abi(data));
}
