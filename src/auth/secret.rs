//! Password hashes and login-token secrets.
//!
//! Passwords are stored only as argon2id hashes in PHC string form
//! (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`), so the parameters travel
//! with each hash and can be raised later without breaking old ones. An
//! unknown user is "verified" against a dummy hash made with the same
//! parameters, so a wrong user name costs as much time as a wrong password.
//!
//! A login token is `sdbt_<id>_<secret>`: the id (16 hex digits) finds the
//! token and names it for revocation; only SHA-256 of the secret is stored.
//! Tokens and passwords are handled in [`zeroize::Zeroizing`] buffers.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Cost of the argon2id password hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PasswordCost {
    /// Memory in KiB (default 19456, OWASP's recommendation).
    pub memory_kib: u32,
    /// Passes over memory (default 2).
    pub iterations: u32,
}

impl Default for PasswordCost {
    fn default() -> Self {
        PasswordCost {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

impl PasswordCost {
    /// The cheapest cost argon2 allows: for tests only, never for real
    /// passwords.
    pub fn dangerous_minimal() -> Self {
        PasswordCost {
            memory_kib: 8,
            iterations: 1,
        }
    }

    fn hasher(&self) -> Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None).map_err(|e| {
            Error::InvalidArgument {
                what: format!("password hash parameters: {e}"),
            }
        })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes `password` into a PHC string.
pub fn hash_password(password: &str, cost: PasswordCost) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::KeyProvider {
        message: format!("no OS randomness for a password salt: {e}"),
    })?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::InvalidArgument {
        what: format!("salt: {e}"),
    })?;
    let hash = cost
        .hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::InvalidArgument {
            what: format!("password hash: {e}"),
        })?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC hash (false for a damaged hash).
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification at `cost` (unknown user, no
/// password set), so failures take alike long whatever their cause.
pub fn dummy_verify(password: &str, cost: PasswordCost) {
    if let Ok(h) = cost.hasher() {
        let mut out = [0u8; 32];
        let _ = h.hash_password_into(password.as_bytes(), b"sealdb-dummy-salt", &mut out);
    }
}

/// SHA-256 of a token secret.
pub fn token_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new token: (id, full token text, hash of its secret).
pub fn new_token() -> Result<(String, Zeroizing<String>, [u8; 32])> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut raw[..]).map_err(|e| Error::KeyProvider {
        message: format!("no OS randomness for a login token: {e}"),
    })?;
    let id = hex(&raw[..8]);
    let secret = Zeroizing::new(hex(&raw[8..]));
    let hash = token_hash(&secret);
    let text = Zeroizing::new(format!("sdbt_{id}_{}", secret.as_str()));
    Ok((id, text, hash))
}

/// Splits a token text into (id, secret).
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("sdbt_")?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 16 || secret.is_empty() {
        return None;
    }
    Some((id, secret))
}

/// Constant-time equality of two hashes.
pub fn hashes_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}
