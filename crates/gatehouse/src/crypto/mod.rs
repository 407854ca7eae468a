//! Cryptography: random secrets and their hashes, RS256 signing keys, password hashing.
//! Everything secret is made here, from the OS CSPRNG, so the rest of the server never picks
//! its own randomness.

pub mod password;
pub mod sealing;
pub mod secrets;
pub mod signing;
