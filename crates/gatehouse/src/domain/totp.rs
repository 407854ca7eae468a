//! RFC 6238 time-based one-time passwords as authenticator apps use them (SHA-1, 6 digits,
//! 30-second steps, one step of tolerance either way), the `otpauth://` URI and its QR code,
//! and the format of recovery codes. Pure functions: time and randomness come in as arguments.

use base64::Engine as _;
use totp_rs::{Algorithm, Secret, Totp};

/// Seconds per time step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Bytes of a generated secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

/// The time step a Unix time (seconds) falls in.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

fn totp(secret: &[u8]) -> Option<Totp> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_skew(0)
        .with_step_duration(STEP_SECS as u64)
        .with_secret(secret.to_vec())
        .build()
        .ok()
}

/// The code for one time step (what an authenticator app shows during it).
pub fn code_for_step(secret: &[u8], step: i64) -> Option<String> {
    let t = totp(secret)?;
    let time = u64::try_from(step).ok()?.checked_mul(STEP_SECS as u64)?;
    Some(t.generate(time).to_string())
}

/// Removes what people type around a code (spaces, hyphens).
pub fn normalize_code(input: &str) -> String {
    input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect()
}

/// The time step whose code `code` is, among the step of `unix_secs` and its neighbours.
/// Every candidate is compared (in constant time) so the answer's timing says nothing.
pub fn matching_step(secret: &[u8], code: &str, unix_secs: i64) -> Option<i64> {
    let code = normalize_code(code);
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_secs);
    let mut found = None;
    // Newest first, so that when two steps match (they never should) the later one counts.
    for step in [now + 1, now, now - 1] {
        let expected = code_for_step(secret, step)?;
        if crate::crypto::secrets::secrets_equal(&expected, &code) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Base32 (RFC 4648, no padding) as authenticator apps expect for manual entry.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32().trim_end_matches('=').to_owned()
}

/// Parses a caller-supplied base32 secret (`totp_secret` on enrolment); at least 128 bits.
pub fn parse_secret_base32(input: &str) -> Option<Vec<u8>> {
    let cleaned: String = input.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let bytes = Secret::try_from_base32(cleaned.trim_end_matches('=')).ok()?.as_bytes().to_vec();
    (16..=64).contains(&bytes.len()).then_some(bytes)
}

/// The Key URI Format (`otpauth://totp/Issuer:account?secret=…&issuer=…`).
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let enc = |s: &str| -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        secret_base32(secret),
        enc(issuer)
    )
}

/// The QR code of `text` as a `data:image/png;base64,…` URL (black on white, 6 px per module,
/// the standard 4-module quiet zone).
pub fn qr_png_data_url(text: &str) -> Option<String> {
    const SCALE: usize = 6;
    const QUIET: usize = 4;
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
        for y in my * SCALE..(my + 1) * SCALE {
            let row = y * side;
            if let Some(span) = pixels.get_mut(row + mx * SCALE..row + (mx + 1) * SCALE) {
                span.fill(0);
            }
        }
    }
    let mut png = Vec::new();
    {
        let side = u32::try_from(side).ok()?;
        let mut encoder = png::Encoder::new(&mut png, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&pixels).ok()?;
        writer.finish().ok()?;
    }
    Some(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)))
}

/// Recovery codes per user.
pub const RECOVERY_CODES: usize = 10;

/// A recovery code from 8 random bytes: 12 characters of an unambiguous alphabet (60 bits),
/// shown as `xxxx-xxxx-xxxx`.
pub fn recovery_code_from(random: &[u8; 8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut n = u64::from_be_bytes(*random);
    let mut out = String::with_capacity(14);
    for i in 0..12 {
        if i == 4 || i == 8 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[(n & 31) as usize]));
        n >>= 5;
    }
    out
}

/// A typed recovery code in canonical form (`xxxx-xxxx-xxxx`, lower case), if it could be one.
pub fn normalize_recovery_code(input: &str) -> Option<String> {
    let chars: String = input.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    if chars.len() != 12 {
        return None;
    }
    Some(format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the 8-digit vectors, truncated to 6 by the modulus).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        #[track_caller]
        fn check(secret: &[u8], time: i64, expect: &str) {
            assert_eq!(code_for_step(secret, step_at(time)).unwrap(), expect);
        }
        check(secret, 59, "287082");
        check(secret, 1_111_111_109, "081804");
        check(secret, 1_234_567_890, "005924");
        check(secret, 2_000_000_000, "279037");
    }

    #[test]
    fn accepts_one_step_either_way() {
        let secret = b"12345678901234567890";
        let now = 1_234_567_890;
        let code = code_for_step(secret, step_at(now)).unwrap();
        assert_eq!(matching_step(secret, &code, now), Some(step_at(now)));
        assert_eq!(matching_step(secret, &code, now + 30), Some(step_at(now)));
        assert_eq!(matching_step(secret, &code, now - 30), Some(step_at(now)));
        assert_eq!(matching_step(secret, &code, now + 60), None);
        assert_eq!(matching_step(secret, &format!("{} {}", &code[..3], &code[3..]), now), Some(step_at(now)));
        assert_eq!(matching_step(secret, "12345", now), None);
        assert_eq!(matching_step(secret, "abcdef", now), None);
    }

    #[test]
    fn uri_secret_and_qr() {
        let secret = [7u8; 20];
        let b32 = secret_base32(&secret);
        assert_eq!(parse_secret_base32(&b32).unwrap(), secret.to_vec());
        assert!(parse_secret_base32("AAAA").is_none(), "too short");
        let uri = otpauth_uri(&secret, "Acme Inc", "ada@example.com");
        assert!(uri.starts_with("otpauth://totp/Acme%20Inc:ada%40example.com?secret="), "{uri}");
        assert!(uri.contains("&issuer=Acme%20Inc"));
        assert!(qr_png_data_url(&uri).unwrap().starts_with("data:image/png;base64,iVBOR"));
    }

    #[test]
    fn recovery_codes() {
        let code = recovery_code_from(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(code.len(), 14);
        assert_eq!(normalize_recovery_code(&code.to_uppercase().replace('-', " ")).unwrap(), code);
        assert!(normalize_recovery_code("abc").is_none());
    }
}
