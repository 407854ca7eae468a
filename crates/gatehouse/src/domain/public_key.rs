//! A signing key as the JWKS publishes it: the RSA public numbers and its self-signed
//! certificate, already encoded.

/// One published key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    /// Modulus and exponent, base64url without padding.
    pub n: String,
    pub e: String,
    /// The key's self-signed X.509 certificate (DER, standard base64), if it has one.
    pub certificate: Option<String>,
    /// SHA-256 of the certificate's DER, base64url without padding.
    pub certificate_sha256: Option<String>,
}
