//! The config file exactly as written: serde types that refuse unknown keys
//! and bad values, so toml reports them with their position.
//!
//! Only describes the file's shape; `config::mod` validates meaning and
//! turns these into the resolved [`super::Config`]. Never reads files.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use super::{Approve, ProfileKind};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) defaults: RawDefaults,
    #[serde(default)]
    pub(super) agents: BTreeMap<String, Spanned<RawProfile>>,
    #[serde(default)]
    pub(super) hosts: BTreeMap<String, Spanned<RawHost>>,
}

/// `[hosts.NAME]`: another machine whose corral server is reached by ssh.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHost {
    pub(super) ssh: Option<String>,
    #[serde(default)]
    pub(super) ssh_args: Vec<String>,
    pub(super) corral: Option<String>,
}

/// `[defaults]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) agent: Option<Spanned<String>>,
    pub(super) model: Option<String>,
    pub(super) permission_mode: Option<String>,
    pub(super) concurrency: Option<AtLeastOne>,
    #[serde(default)]
    pub(super) concurrency_per_agent: BTreeMap<String, Spanned<AtLeastOne>>,
    pub(super) idle_timeout: Option<Seconds>,
    pub(super) timeout: Option<Seconds>,
    pub(super) kill_grace: Option<Seconds>,
    pub(super) server_idle_timeout: Option<Seconds>,
    pub(super) idle_session_close: Option<Seconds>,
    pub(super) max_cost_usd: Option<Dollars>,
    pub(super) max_turns: Option<AtLeastOne>,
    pub(super) approve: Option<Approve>,
    pub(super) notifications: Option<bool>,
    pub(super) bell: Option<bool>,
    #[serde(default)]
    pub(super) keybindings: BTreeMap<String, String>,
    pub(super) theme: Option<super::ThemeName>,
    pub(super) worktree: Option<bool>,
    pub(super) worktree_root: Option<Spanned<String>>,
    pub(super) worktree_setup: Option<String>,
    pub(super) hosts: Option<Spanned<Vec<String>>>,
}

/// `[agents.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    pub(super) kind: Option<ProfileKind>,
    pub(super) binary: Option<String>,
    #[serde(default)]
    pub(super) args: Vec<String>,
    #[serde(default)]
    pub(super) env: BTreeMap<String, String>,
    pub(super) model: Option<String>,
    pub(super) permission_mode: Option<String>,
    pub(super) base_url: Option<Spanned<String>>,
    pub(super) api_key_env: Option<Spanned<String>>,
    pub(super) system_prompt: Option<Spanned<String>>,
    pub(super) temperature: Option<Spanned<f64>>,
    pub(super) max_tokens: Option<Spanned<AtLeastOne>>,
    pub(super) argv: Option<Spanned<Vec<String>>>,
    pub(super) protocol: Option<Spanned<String>>,
    pub(super) price_input_per_mtok: Option<Dollars>,
    pub(super) price_output_per_mtok: Option<Dollars>,
}

/// A count of at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AtLeastOne(pub(super) u32);

impl<'de> Deserialize<'de> for AtLeastOne {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        if n < 1 || n > u32::MAX as i64 {
            return Err(de::Error::custom(format!(
                "expected a whole number of at least 1, got {n}"
            )));
        }
        Ok(AtLeastOne(n as u32))
    }
}

/// Seconds (whole or fractional, not negative), kept as milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seconds(pub(super) u64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = d.deserialize_any(NumberVisitor("a number of seconds"))?;
        if !secs.is_finite() || secs < 0.0 {
            return Err(de::Error::custom(format!(
                "expected a number of seconds (0 or more), got {secs}"
            )));
        }
        Ok(Seconds((secs * 1000.0).round() as u64))
    }
}

/// An amount in US dollars, not negative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Dollars(pub(super) f64);

impl<'de> Deserialize<'de> for Dollars {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let usd = d.deserialize_any(NumberVisitor("an amount in US dollars"))?;
        if !usd.is_finite() || usd < 0.0 {
            return Err(de::Error::custom(format!(
                "expected an amount in US dollars (0 or more), got {usd}"
            )));
        }
        Ok(Dollars(usd))
    }
}

/// Accepts an integer or a float as `f64`.
struct NumberVisitor(&'static str);

impl Visitor<'_> for NumberVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
}
