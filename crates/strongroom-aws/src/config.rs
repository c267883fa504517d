//! [`AwsBuilder`]: typed settings for the AWS Secrets Manager store.

use std::fmt;
use std::time::Duration;

use aws_config::SdkConfig;
use strongroom_core::{Error, Result, SecretValue};

use crate::store::AwsStore;

/// The recovery window a delete uses unless told otherwise (days).
pub const DEFAULT_RECOVERY_WINDOW_DAYS: u32 = 7;
/// The shortest recovery window AWS accepts (days).
pub const MIN_RECOVERY_WINDOW_DAYS: u32 = 7;
/// The longest recovery window AWS accepts (days).
pub const MAX_RECOVERY_WINDOW_DAYS: u32 = 30;

/// Settings names (also the environment variables [`AwsBuilder::from_env`] reads).
pub mod env {
    /// Region (LiteLLM's name; checked first).
    pub const AWS_REGION_NAME: &str = "AWS_REGION_NAME";
    /// Region.
    pub const AWS_REGION: &str = "AWS_REGION";
    /// Region (older SDKs' name).
    pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
    /// Endpoint override for Secrets Manager only (checked first).
    pub const AWS_ENDPOINT_URL_SECRETS_MANAGER: &str = "AWS_ENDPOINT_URL_SECRETS_MANAGER";
    /// Endpoint override for every AWS service.
    pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
    /// Shared-config profile for the default credential chain.
    pub const AWS_PROFILE: &str = "AWS_PROFILE";
    /// Access key id (setting name for [`AwsBuilder::with_access_key`](super::AwsBuilder::with_access_key)).
    pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    /// Secret access key (setting name).
    pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    /// A role to assume with STS on top of the base credentials.
    pub const ROLE_ARN: &str = "STRONGROOM_AWS_ROLE_ARN";
    /// Session name for the assumed role.
    pub const ROLE_SESSION_NAME: &str = "STRONGROOM_AWS_ROLE_SESSION_NAME";
    /// External id for the assumed role.
    pub const ROLE_EXTERNAL_ID: &str = "STRONGROOM_AWS_ROLE_EXTERNAL_ID";
    /// STS endpoint override (VPC endpoint) for the role assumption.
    pub const STS_ENDPOINT_URL: &str = "STRONGROOM_AWS_STS_ENDPOINT_URL";
    /// KMS key for new secrets.
    pub const KMS_KEY_ID: &str = "STRONGROOM_AWS_KMS_KEY_ID";
    /// Default recovery window for deletes, 7–30 days.
    pub const RECOVERY_WINDOW_DAYS: &str = "STRONGROOM_AWS_RECOVERY_WINDOW_DAYS";
    /// Whether `a/b/key` falls back to field `key` of secret `a/b` (`true`/`false`).
    pub const JSON_KEY_FALLBACK: &str = "STRONGROOM_AWS_JSON_KEY_FALLBACK";
    /// Attempts per call, including the first (the SDK's standard retry mode).
    pub const MAX_ATTEMPTS: &str = "STRONGROOM_AWS_MAX_ATTEMPTS";
    /// Time limit per operation, all attempts included (humantime, e.g. `30s`).
    pub const TIMEOUT: &str = "STRONGROOM_AWS_TIMEOUT";
}

/// Explicit access-key credentials.
#[derive(Clone)]
pub(crate) struct StaticKeys {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: SecretValue,
    pub(crate) session_token: Option<SecretValue>,
}

/// A role to assume with STS.
#[derive(Debug, Clone)]
pub(crate) struct AssumeRole {
    pub(crate) role_arn: String,
    pub(crate) session_name: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) sts_endpoint_url: Option<String>,
}

/// Builds an [`AwsStore`].
///
/// Credentials come from the AWS default chain (environment, shared profile, SSO, web identity,
/// container and instance metadata) unless [`with_access_key`](Self::with_access_key) gives
/// them explicitly; [`with_assume_role`](Self::with_assume_role) then trades them for a role's
/// credentials through STS.
///
/// ```no_run
/// use strongroom_aws::AwsBuilder;
/// use strongroom_core::{ReadOptions, SecretName, SecretStore};
/// # async fn demo() -> strongroom_core::Result<()> {
/// let store = AwsBuilder::new()
///     .with_region("eu-west-1")
///     .with_assume_role("arn:aws:iam::123456789012:role/litellm-secrets")
///     .build()?;
/// let name = SecretName::new("prod/db/password")?; // field `password` of JSON secret `prod/db`
/// let secret = store.read(&name, &ReadOptions::new()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AwsBuilder {
    pub(crate) region: Option<String>,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) profile: Option<String>,
    pub(crate) keys: Option<StaticKeys>,
    pub(crate) role: Option<AssumeRole>,
    pub(crate) kms_key_id: Option<String>,
    pub(crate) recovery_window_days: u32,
    pub(crate) json_key_fallback: bool,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) sdk_config: Option<SdkConfig>,
    deferred: Option<Error>,
}

impl Default for AwsBuilder {
    fn default() -> Self {
        AwsBuilder {
            region: None,
            endpoint_url: None,
            profile: None,
            keys: None,
            role: None,
            kms_key_id: None,
            recovery_window_days: DEFAULT_RECOVERY_WINDOW_DAYS,
            json_key_fallback: true,
            max_attempts: None,
            timeout: None,
            connect_timeout: None,
            sdk_config: None,
            deferred: None,
        }
    }
}

impl fmt::Debug for AwsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsBuilder")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("profile", &self.profile)
            .field(
                "credentials",
                &if self.keys.is_some() {
                    "access key (redacted)"
                } else {
                    "default chain"
                },
            )
            .field("role", &self.role)
            .field("kms_key_id", &self.kms_key_id)
            .field("recovery_window_days", &self.recovery_window_days)
            .field("json_key_fallback", &self.json_key_fallback)
            .field("max_attempts", &self.max_attempts)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AwsBuilder {
    /// Defaults: the default credential chain, region from the environment or profile, the
    /// public endpoint, 7-day recovery window, last-segment JSON key fallback on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the settings in [`env`](mod@env) from the process environment. Credentials themselves
    /// are left to the default chain (which reads `AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, …).
    /// A malformed value makes [`build`](Self::build) fail naming the variable.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like [`from_env`](Self::from_env), reading the same names through `get` (a config map,
    /// tests) instead of the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut b = AwsBuilder::new();
        b.region = get(env::AWS_REGION_NAME)
            .or_else(|| get(env::AWS_REGION))
            .or_else(|| get(env::AWS_DEFAULT_REGION));
        b.endpoint_url =
            get(env::AWS_ENDPOINT_URL_SECRETS_MANAGER).or_else(|| get(env::AWS_ENDPOINT_URL));
        b.profile = get(env::AWS_PROFILE);
        if let Some(arn) = get(env::ROLE_ARN) {
            b.role = Some(AssumeRole {
                role_arn: arn,
                session_name: get(env::ROLE_SESSION_NAME),
                external_id: get(env::ROLE_EXTERNAL_ID),
                sts_endpoint_url: get(env::STS_ENDPOINT_URL),
            });
        }
        b.kms_key_id = get(env::KMS_KEY_ID);
        if let Some(v) = get(env::RECOVERY_WINDOW_DAYS) {
            match v.parse::<u32>() {
                Ok(d) => b.recovery_window_days = d,
                Err(_) => b.defer(Error::config(
                    env::RECOVERY_WINDOW_DAYS,
                    "not a whole number of days",
                )),
            }
        }
        if let Some(v) = get(env::JSON_KEY_FALLBACK) {
            match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => b.json_key_fallback = true,
                "0" | "false" | "no" | "off" => b.json_key_fallback = false,
                _ => b.defer(Error::config(
                    env::JSON_KEY_FALLBACK,
                    "expected true or false",
                )),
            }
        }
        if let Some(v) = get(env::MAX_ATTEMPTS) {
            match v.parse::<u32>() {
                Ok(n) => b.max_attempts = Some(n),
                Err(_) => b.defer(Error::config(env::MAX_ATTEMPTS, "not a whole number")),
            }
        }
        if let Some(v) = get(env::TIMEOUT) {
            match humantime::parse_duration(&v) {
                Ok(d) => b.timeout = Some(d),
                Err(_) => b.defer(Error::config(env::TIMEOUT, "not a duration such as `30s`")),
            }
        }
        b
    }

    fn defer(&mut self, err: Error) {
        if self.deferred.is_none() {
            self.deferred = Some(err);
        }
    }

    /// The AWS region (`us-east-1`, …).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sends requests to this endpoint instead of `https://secretsmanager.<region>.amazonaws.com`
    /// (a VPC endpoint, a FIPS endpoint, or moto in tests).
    pub fn with_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// The shared-config profile the default credential chain uses.
    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Explicit credentials: an access key id and its secret, plus a session token for
    /// temporary credentials. The default credential chain is then not used.
    pub fn with_access_key(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<SecretValue>,
        session_token: Option<SecretValue>,
    ) -> Self {
        self.keys = Some(StaticKeys {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
        });
        self
    }

    /// Assumes this role (STS `AssumeRole`) with the base credentials; the SDK refreshes the
    /// role credentials before they expire.
    pub fn with_assume_role(mut self, role_arn: impl Into<String>) -> Self {
        self.role = Some(AssumeRole {
            role_arn: role_arn.into(),
            session_name: None,
            external_id: None,
            sts_endpoint_url: None,
        });
        self
    }

    /// Session name for the assumed role (default: generated by the SDK).
    pub fn with_role_session_name(mut self, name: impl Into<String>) -> Self {
        if let Some(role) = &mut self.role {
            role.session_name = Some(name.into());
        } else {
            self.defer(Error::config(
                env::ROLE_SESSION_NAME,
                "set a role with `with_assume_role` first",
            ));
        }
        self
    }

    /// External id for the assumed role.
    pub fn with_role_external_id(mut self, id: impl Into<String>) -> Self {
        if let Some(role) = &mut self.role {
            role.external_id = Some(id.into());
        } else {
            self.defer(Error::config(
                env::ROLE_EXTERNAL_ID,
                "set a role with `with_assume_role` first",
            ));
        }
        self
    }

    /// STS endpoint for the role assumption (a VPC endpoint).
    pub fn with_sts_endpoint_url(mut self, url: impl Into<String>) -> Self {
        if let Some(role) = &mut self.role {
            role.sts_endpoint_url = Some(url.into());
        } else {
            self.defer(Error::config(
                env::STS_ENDPOINT_URL,
                "set a role with `with_assume_role` first",
            ));
        }
        self
    }

    /// KMS key used to encrypt secrets this store creates (default: the account's
    /// `aws/secretsmanager` key).
    pub fn with_kms_key_id(mut self, key: impl Into<String>) -> Self {
        self.kms_key_id = Some(key.into());
        self
    }

    /// The recovery window a delete uses when `DeleteOptions` gives none (7–30, default 7).
    pub fn with_recovery_window_days(mut self, days: u32) -> Self {
        self.recovery_window_days = days;
        self
    }

    /// Whether a missing `a/b/key` is read as field `key` of the JSON secret `a/b` (the form
    /// CloverDX users write). On by default.
    pub fn with_json_key_fallback(mut self, on: bool) -> Self {
        self.json_key_fallback = on;
        self
    }

    /// Attempts per call including the first (the SDK's standard retry mode; default 3).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Time limit for a whole operation, retries included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Time limit for opening a connection.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Uses an already loaded SDK configuration (credentials, region, HTTP client, retry
    /// settings) as the base; the builder's own settings still apply on top.
    pub fn with_sdk_config(mut self, config: SdkConfig) -> Self {
        self.sdk_config = Some(config);
        self
    }

    /// Checks the settings and builds the store. The SDK configuration (credential chain,
    /// region from profiles) is loaded on the first call, since that part is asynchronous.
    pub fn build(self) -> Result<AwsStore> {
        if let Some(err) = self.deferred.clone() {
            return Err(err);
        }
        if let Some(region) = &self.region {
            let ok = !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(Error::config(
                    env::AWS_REGION,
                    "not a region name such as `us-east-1`",
                ));
            }
        }
        if let Some(url) = &self.endpoint_url {
            check_url(env::AWS_ENDPOINT_URL, url)?;
        }
        if let Some(keys) = &self.keys {
            if keys.access_key_id.trim().is_empty() {
                return Err(Error::config(env::AWS_ACCESS_KEY_ID, "is empty"));
            }
            if keys.secret_access_key.is_blank() {
                return Err(Error::config(env::AWS_SECRET_ACCESS_KEY, "is empty"));
            }
        }
        if let Some(role) = &self.role {
            if !role.role_arn.starts_with("arn:") {
                return Err(Error::config(
                    env::ROLE_ARN,
                    "not a role ARN (`arn:aws:iam::<account>:role/<name>`)",
                ));
            }
            if let Some(url) = &role.sts_endpoint_url {
                check_url(env::STS_ENDPOINT_URL, url)?;
            }
        }
        check_recovery_window(self.recovery_window_days)
            .map_err(|why| Error::config(env::RECOVERY_WINDOW_DAYS, why))?;
        if self.max_attempts == Some(0) {
            return Err(Error::config(env::MAX_ATTEMPTS, "must be at least 1"));
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(Error::config(env::TIMEOUT, "must be more than zero"));
        }
        Ok(AwsStore::from_builder(self))
    }
}

/// `Err(why)` when `days` is outside 7–30.
pub(crate) fn check_recovery_window(days: u32) -> std::result::Result<(), String> {
    if (MIN_RECOVERY_WINDOW_DAYS..=MAX_RECOVERY_WINDOW_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(format!(
            "a recovery window must be {MIN_RECOVERY_WINDOW_DAYS}–{MAX_RECOVERY_WINDOW_DAYS} days, not {days}"
        ))
    }
}

fn check_url(setting: &str, url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| Error::config(setting, "must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(Error::config(setting, "has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use strongroom_core::ErrorKind;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn from_env_reads_settings() {
        let b = AwsBuilder::from_lookup(lookup(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_REGION_NAME", "eu-central-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:2"),
            (
                "STRONGROOM_AWS_ROLE_ARN",
                "arn:aws:iam::111111111111:role/r",
            ),
            ("STRONGROOM_AWS_ROLE_SESSION_NAME", "s"),
            ("STRONGROOM_AWS_RECOVERY_WINDOW_DAYS", "10"),
            ("STRONGROOM_AWS_JSON_KEY_FALLBACK", "false"),
            ("STRONGROOM_AWS_TIMEOUT", "5s"),
        ]));
        assert_eq!(b.region.as_deref(), Some("eu-central-1"));
        assert_eq!(b.endpoint_url.as_deref(), Some("http://127.0.0.1:2"));
        assert_eq!(b.role.as_ref().unwrap().session_name.as_deref(), Some("s"));
        assert_eq!(b.recovery_window_days, 10);
        assert!(!b.json_key_fallback);
        assert_eq!(b.timeout, Some(Duration::from_secs(5)));
        assert!(b.build().is_ok());
    }

    #[test]
    fn bad_settings_fail_at_build_naming_the_setting() {
        let cases: Vec<(AwsBuilder, &str)> = vec![
            (
                AwsBuilder::from_lookup(lookup(&[("STRONGROOM_AWS_RECOVERY_WINDOW_DAYS", "x")])),
                env::RECOVERY_WINDOW_DAYS,
            ),
            (
                AwsBuilder::new().with_recovery_window_days(6),
                env::RECOVERY_WINDOW_DAYS,
            ),
            (
                AwsBuilder::new().with_recovery_window_days(31),
                env::RECOVERY_WINDOW_DAYS,
            ),
            (
                AwsBuilder::from_lookup(lookup(&[("STRONGROOM_AWS_JSON_KEY_FALLBACK", "maybe")])),
                env::JSON_KEY_FALLBACK,
            ),
            (
                AwsBuilder::new().with_endpoint_url("127.0.0.1:4566"),
                env::AWS_ENDPOINT_URL,
            ),
            (AwsBuilder::new().with_region("US East"), env::AWS_REGION),
            (
                AwsBuilder::new().with_access_key("", "x", None),
                env::AWS_ACCESS_KEY_ID,
            ),
            (
                AwsBuilder::new().with_access_key("AKIA", "", None),
                env::AWS_SECRET_ACCESS_KEY,
            ),
            (AwsBuilder::new().with_assume_role("my-role"), env::ROLE_ARN),
            (
                AwsBuilder::new().with_role_session_name("s"),
                env::ROLE_SESSION_NAME,
            ),
            (AwsBuilder::new().with_max_attempts(0), env::MAX_ATTEMPTS),
        ];
        for (builder, setting) in cases {
            let err = builder.build().expect_err(setting);
            assert_eq!(err.kind(), &ErrorKind::Config, "{err}");
            assert!(
                err.to_string().contains(setting),
                "{err} should name {setting}"
            );
        }
    }

    #[test]
    fn debug_hides_the_secret_key() {
        let b = AwsBuilder::new().with_access_key(
            "AKIAEXAMPLE",
            "wJalrXUtnFEMI-very-secret",
            Some(SecretValue::from("session-token-secret")),
        );
        let text = format!("{b:?}");
        assert!(!text.contains("very-secret") && !text.contains("session-token-secret"));
        let store = b.with_region("us-east-1").build().unwrap();
        let text = format!("{store:?}");
        assert!(!text.contains("very-secret") && !text.contains("session-token-secret"));
    }
}
