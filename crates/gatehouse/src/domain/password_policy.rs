//! Password rules in the spirit of NIST SP 800-63B-4 §3.1.1.2: a minimum and maximum length
//! counted in Unicode code points, no composition rules, and a blocklist-style strength check.
//!
//! The strength check is zxcvbn, which covers common and breached-list passwords, dictionary
//! words, keyboard patterns, repeats, sequences, dates and the user's own email and name.
//! Only the first [`ZXCVBN_MAX_CHARS`] characters are scored, so the cost per check is bounded.

use std::fmt;

/// zxcvbn's cost grows with input length, so only this many leading characters are scored.
const ZXCVBN_MAX_CHARS: usize = 100;

/// NIST SP 800-63B-4 says verifiers shall allow passwords of at least this many characters.
const MAX_LENGTH_FLOOR: usize = 64;

/// NIST SP 800-63B-4 says verifiers shall require at least this many characters.
const MIN_LENGTH_FLOOR: usize = 8;

/// Strongest score zxcvbn gives.
const MAX_SCORE: u8 = 4;

/// Shortest fragment of an email or name that is treated as a guessable word.
const MIN_USER_WORD_CHARS: usize = 3;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode code points) a password may have.
    pub min_length: usize,
    /// Most characters (Unicode code points) a password may have; at least 64.
    pub max_length: usize,
    /// Lowest acceptable zxcvbn score, from 0 (anything goes) to 4.
    pub min_strength: u8,
}

impl Default for PasswordPolicy {
    fn default() -> PasswordPolicy {
        PasswordPolicy { min_length: 8, max_length: 128, min_strength: 3 }
    }
}

/// Why a password was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    /// Includes common and breached-list passwords.
    TooWeak {
        warning: Option<String>,
        suggestions: Vec<String>,
    },
}

impl PasswordProblem {
    /// A sentence (or two) to show the user next to the password field.
    pub fn message(&self) -> String {
        match self {
            PasswordProblem::TooShort { min } => format!("Use at least {min} characters."),
            PasswordProblem::TooLong { max } => format!("Use at most {max} characters."),
            PasswordProblem::TooWeak { warning, suggestions } => {
                let mut message = String::from("This password is too common or easy to guess.");
                match warning {
                    Some(warning) => {
                        message.push(' ');
                        message.push_str(warning);
                    }
                    None => {
                        for suggestion in suggestions {
                            message.push(' ');
                            message.push_str(suggestion);
                        }
                    }
                }
                message
            }
        }
    }
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for PasswordProblem {}

/// A configured policy that breaks NIST SP 800-63B-4 or cannot be satisfied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPasswordPolicy {
    #[error(
        "The password policy's min_length is {min}, but it must be at least {MIN_LENGTH_FLOOR} (NIST SP 800-63B-4)."
    )]
    MinLengthTooLow { min: usize },
    #[error(
        "The password policy's max_length is {max}, but it must be at least {MAX_LENGTH_FLOOR} (NIST SP 800-63B-4)."
    )]
    MaxLengthTooLow { max: usize },
    #[error("The password policy's min_length ({min}) is greater than its max_length ({max}).")]
    MinAboveMax { min: usize, max: usize },
    #[error("The password policy's min_strength is {strength}, but it must be between 0 and {MAX_SCORE}.")]
    StrengthOutOfRange { strength: u8 },
}

impl PasswordPolicy {
    /// Checks the policy itself; call this once when loading configuration.
    pub fn validate(&self) -> Result<(), InvalidPasswordPolicy> {
        if self.min_length < MIN_LENGTH_FLOOR {
            return Err(InvalidPasswordPolicy::MinLengthTooLow { min: self.min_length });
        }
        if self.max_length < MAX_LENGTH_FLOOR {
            return Err(InvalidPasswordPolicy::MaxLengthTooLow { max: self.max_length });
        }
        if self.min_length > self.max_length {
            return Err(InvalidPasswordPolicy::MinAboveMax { min: self.min_length, max: self.max_length });
        }
        if self.min_strength > MAX_SCORE {
            return Err(InvalidPasswordPolicy::StrengthOutOfRange { strength: self.min_strength });
        }
        Ok(())
    }

    /// Checks a new password. `user_inputs` are things an attacker would try first for this
    /// user, such as the email address and names; empty strings are ignored.
    pub fn check(&self, password: &str, user_inputs: &[&str]) -> Result<(), PasswordProblem> {
        let length = password.chars().count();
        if length < self.min_length {
            return Err(PasswordProblem::TooShort { min: self.min_length });
        }
        if length > self.max_length {
            return Err(PasswordProblem::TooLong { max: self.max_length });
        }
        if self.min_strength == 0 {
            return Ok(());
        }

        let scored: String = password.chars().take(ZXCVBN_MAX_CHARS).collect();
        let words = user_words(user_inputs);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let entropy = zxcvbn::zxcvbn(&scored, &words);
        if u8::from(entropy.score()) >= self.min_strength {
            return Ok(());
        }
        let (warning, suggestions) = match entropy.feedback() {
            Some(feedback) => (
                feedback.warning().map(|warning| warning.to_string()),
                feedback.suggestions().iter().map(ToString::to_string).collect(),
            ),
            None => (None, Vec::new()),
        };
        Err(PasswordProblem::TooWeak { warning, suggestions })
    }
}

/// zxcvbn only matches whole user inputs, so `alice.smith@example.com` alone would not catch
/// `alice1990`; add each alphanumeric run of every input as a word of its own.
fn user_words(user_inputs: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut push = |word: &str| {
        let word = word.to_lowercase();
        if word.chars().count() >= MIN_USER_WORD_CHARS && !words.contains(&word) {
            words.push(word);
        }
    };
    for input in user_inputs {
        push(input);
        for part in input.split(|c: char| !c.is_alphanumeric()) {
            push(part);
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(policy: &PasswordPolicy, password: &str, user_inputs: &[&str], expected: Expect) {
        let result = policy.check(password, user_inputs);
        match (expected, &result) {
            (Expect::Ok, Ok(())) => {}
            (Expect::TooShort(want), Err(PasswordProblem::TooShort { min })) if *min == want => {}
            (Expect::TooLong(want), Err(PasswordProblem::TooLong { max })) if *max == want => {}
            (Expect::TooWeak, Err(PasswordProblem::TooWeak { .. })) => {}
            _ => panic!("password {password:?}: expected {expected:?}, got {result:?}"),
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum Expect {
        Ok,
        TooShort(usize),
        TooLong(usize),
        TooWeak,
    }

    #[test]
    fn default_policy() {
        let policy = PasswordPolicy::default();
        assert_eq!(policy.validate(), Ok(()));
        let cases: &[(&str, Expect)] = &[
            ("", Expect::TooShort(8)),
            ("abc1234", Expect::TooShort(8)),
            // Common and breached-list passwords.
            ("password", Expect::TooWeak),
            ("Password1", Expect::TooWeak),
            ("12345678", Expect::TooWeak),
            ("qwertyuiop", Expect::TooWeak),
            ("iloveyou", Expect::TooWeak),
            ("aaaaaaaaaaaa", Expect::TooWeak),
            ("abcdefghijkl", Expect::TooWeak),
            ("P@ssw0rd!", Expect::TooWeak),
            // Long, unpredictable passphrases; spaces and any printable characters are allowed.
            ("correct horse battery staple", Expect::Ok),
            ("tV9#mq2!Lr8x", Expect::Ok),
            ("grüne Äpfel schmecken süß heute", Expect::Ok),
            ("日本語のパスワードはとても長いです", Expect::Ok),
        ];
        for &(password, expected) in cases {
            check(&policy, password, &[], expected);
        }
    }

    #[test]
    fn length_counts_code_points_not_bytes() {
        let policy = PasswordPolicy { min_length: 8, max_length: 64, min_strength: 0 };
        // Seven two-byte characters: 14 bytes but only 7 code points.
        check(&policy, "äöüßéèê", &[], Expect::TooShort(8));
        check(&policy, "äöüßéèêà", &[], Expect::Ok);
        // Four-byte emoji count once each.
        check(&policy, &"🔑".repeat(64), &[], Expect::Ok);
        check(&policy, &"🔑".repeat(65), &[], Expect::TooLong(64));
        check(&policy, &"a".repeat(64), &[], Expect::Ok);
        check(&policy, &"a".repeat(65), &[], Expect::TooLong(64));
    }

    #[test]
    fn user_inputs_weaken_passwords_that_contain_them() {
        let policy = PasswordPolicy::default();
        let cases: &[(&str, &[&str], Expect)] = &[
            ("zephyrinequillborne", &[], Expect::Ok),
            ("zephyrinequillborne", &["zephyrine.quillborne@example.com"], Expect::TooWeak),
            ("zephyrinequillborne", &["Zephyrine", "Quillborne"], Expect::TooWeak),
            ("zephyrinequillborne", &["", "someone@example.com"], Expect::Ok),
            ("zephyrine1990", &[], Expect::Ok),
            ("zephyrine1990", &["zephyrine@example.com"], Expect::TooWeak),
            ("Quillborne2024!", &[], Expect::Ok),
            ("Quillborne2024!", &["Z", "Quillborne"], Expect::TooWeak),
        ];
        for &(password, user_inputs, expected) in cases {
            check(&policy, password, user_inputs, expected);
        }
    }

    #[test]
    fn only_the_first_hundred_characters_are_scored() {
        let policy = PasswordPolicy { min_length: 8, max_length: 1000, min_strength: 3 };
        // A weak prefix fails even when the tail is strong, because the tail is never scored.
        let weak_prefix = format!("{}{}", "a".repeat(100), "tV9#mq2!Lr8x");
        check(&policy, &weak_prefix, &[], Expect::TooWeak);
        let strong_prefix = format!("{}{}", "tV9#mq2!Lr8x", "a".repeat(900));
        check(&policy, &strong_prefix, &[], Expect::Ok);
    }

    #[test]
    fn min_strength_zero_skips_scoring() {
        let policy = PasswordPolicy { min_length: 8, max_length: 64, min_strength: 0 };
        check(&policy, "password", &[], Expect::Ok);
        let policy = PasswordPolicy { min_strength: 4, ..policy };
        check(&policy, "correct horse", &[], Expect::TooWeak);
    }

    #[test]
    fn messages_are_sentences() {
        let cases: &[(PasswordProblem, &str)] = &[
            (PasswordProblem::TooShort { min: 8 }, "Use at least 8 characters."),
            (PasswordProblem::TooLong { max: 128 }, "Use at most 128 characters."),
            (
                PasswordProblem::TooWeak {
                    warning: Some("This is a top-10 common password.".to_owned()),
                    suggestions: vec!["Add another word or two.".to_owned()],
                },
                "This password is too common or easy to guess. This is a top-10 common password.",
            ),
            (
                PasswordProblem::TooWeak { warning: None, suggestions: vec!["Add another word or two.".to_owned()] },
                "This password is too common or easy to guess. Add another word or two.",
            ),
            (
                PasswordProblem::TooWeak { warning: None, suggestions: Vec::new() },
                "This password is too common or easy to guess.",
            ),
        ];
        for (problem, message) in cases {
            assert_eq!(problem.message(), *message);
            assert_eq!(problem.to_string(), *message);
        }
    }

    #[test]
    fn weak_passwords_carry_zxcvbn_feedback() {
        let err = PasswordPolicy::default().check("password", &[]).unwrap_err();
        let PasswordProblem::TooWeak { warning, .. } = &err else {
            panic!("expected TooWeak, got {err:?}");
        };
        assert_eq!(warning.as_deref(), Some("This is a top-10 common password."));
        assert_eq!(err.message(), "This password is too common or easy to guess. This is a top-10 common password.");
    }

    #[test]
    fn validate_rejects_non_nist_policies() {
        let cases: &[(PasswordPolicy, Option<&str>)] = &[
            (PasswordPolicy::default(), None),
            (PasswordPolicy { min_length: 15, max_length: 64, min_strength: 4 }, None),
            (
                PasswordPolicy { min_length: 6, ..PasswordPolicy::default() },
                Some("The password policy's min_length is 6, but it must be at least 8 (NIST SP 800-63B-4)."),
            ),
            (
                PasswordPolicy { max_length: 32, ..PasswordPolicy::default() },
                Some("The password policy's max_length is 32, but it must be at least 64 (NIST SP 800-63B-4)."),
            ),
            (
                PasswordPolicy { min_length: 100, max_length: 64, min_strength: 3 },
                Some("The password policy's min_length (100) is greater than its max_length (64)."),
            ),
            (
                PasswordPolicy { min_strength: 5, ..PasswordPolicy::default() },
                Some("The password policy's min_strength is 5, but it must be between 0 and 4."),
            ),
        ];
        for (policy, expected) in cases {
            let got = policy.validate().err().map(|err| err.to_string());
            assert_eq!(got.as_deref(), *expected, "{policy:?}");
        }
    }

    #[test]
    fn serde_fills_missing_fields_with_defaults() {
        let policy: PasswordPolicy = serde_json::from_str(r#"{"min_length": 12}"#).unwrap();
        assert_eq!(policy, PasswordPolicy { min_length: 12, ..PasswordPolicy::default() });
        let policy: PasswordPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(policy, PasswordPolicy::default());
    }
}
