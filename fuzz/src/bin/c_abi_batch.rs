//! Fuzz target `c_abi_batch`: see `sealdb_ffi::fuzz::c_abi_batch`.
fn main() {
    afl::fuzz!(|data: &[u8]| sealdb_ffi::fuzz::c_abi_batch(data));
}
