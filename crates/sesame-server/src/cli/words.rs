//! Protocol words on the command line: sesame-core's vocabulary behind a
//! small clap wrapper.
//!
//! `--help` lists the spellings from the vocabulary (`GrantType::ALL` …), so
//! they are the wire names and cannot drift from the provider's. The wrapper
//! does not refuse a word itself: clap's `ValueEnum` would answer a usage
//! error (exit code 2, clap's message), where the contract is one
//! `error: unknown --grant-type "magic" (one of: …)` line and exit code 1. So
//! a word outside the vocabulary reaches [`Word::get`], which refuses it with
//! the same [`AdminError`] the rest of the validation in `admin` gives.

use std::ffi::OsStr;
use std::marker::PhantomData;

use clap::builder::{PossibleValue, TypedValueParser};
use sesame_core::{ClientAuthMethod, GrantType, JwsAlgorithm, ResponseType, SubjectType};

use crate::admin::{self, AdminError};

/// A vocabulary the command line reads.
pub(crate) trait Vocab: Copy + Send + Sync + 'static {
    /// The accepted spellings, for `--help` and for the refusal.
    fn words() -> Vec<&'static str>;
    /// The value spelled `word`.
    fn read(word: &str) -> Option<Self>;
    /// The refusal of `value` given for `flag`.
    fn refuse(flag: &'static str, value: &str) -> AdminError {
        AdminError::unknown(flag, value, Self::words())
    }
}

macro_rules! wire_vocab {
    ($($t:ty),+) => {$(
        impl Vocab for $t {
            fn words() -> Vec<&'static str> {
                <$t>::ALL.iter().map(|w| w.as_str()).collect()
            }
            fn read(word: &str) -> Option<Self> {
                <$t>::parse(word)
            }
        }
    )+};
}

wire_vocab!(GrantType, ClientAuthMethod, SubjectType, ResponseType);

impl Vocab for JwsAlgorithm {
    fn words() -> Vec<&'static str> {
        admin::signing_algs().map(JwsAlgorithm::as_str).collect()
    }
    fn read(word: &str) -> Option<Self> {
        JwsAlgorithm::parse(word)
    }
    fn refuse(flag: &'static str, value: &str) -> AdminError {
        AdminError::unsupported_alg(flag, value)
    }
}

/// A word as given: the vocabulary's value, or the text it did not know.
#[derive(Debug, Clone)]
pub(crate) struct Word<T>(Result<T, String>);

impl<T: Vocab> Word<T> {
    /// The value, or the refusal naming `flag`.
    pub(crate) fn get(self, flag: &'static str) -> Result<T, AdminError> {
        self.0.map_err(|value| T::refuse(flag, &value))
    }
}

/// Every word of `words`, or the refusal of the first unknown one.
pub(crate) fn all<T: Vocab>(words: Vec<Word<T>>, flag: &'static str) -> Result<Vec<T>, AdminError> {
    words.into_iter().map(|w| w.get(flag)).collect()
}

/// The clap value parser of a [`Word`].
#[derive(Debug)]
pub(crate) struct Parser<T>(PhantomData<fn() -> T>);

impl<T> Clone for Parser<T> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}

/// `value_parser = words::parser::<GrantType>()`.
pub(crate) fn parser<T: Vocab>() -> Parser<T> {
    Parser(PhantomData)
}

impl<T: Vocab> TypedValueParser for Parser<T> {
    type Value = Word<T>;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Word<T>, clap::Error> {
        let text = value.to_string_lossy();
        Ok(Word(T::read(&text).ok_or_else(|| text.into_owned())))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(T::words().into_iter().map(PossibleValue::new)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_the_wire_names() {
        assert!(GrantType::words().contains(&"authorization_code"));
        assert!(ClientAuthMethod::words().contains(&"client_secret_basic"));
        assert!(!JwsAlgorithm::words().contains(&"HS256"));
        let w: Word<GrantType> = Word(Err("magic".into()));
        assert!(
            w.get("--grant-type")
                .unwrap_err()
                .to_string()
                .starts_with("unknown --grant-type \"magic\"")
        );
        let w: Word<JwsAlgorithm> = Word(Err("none".into()));
        assert!(
            w.get("--id-token-alg")
                .unwrap_err()
                .to_string()
                .starts_with("unsupported --id-token-alg")
        );
    }
}
