//! The one table of providers: name, accepted spellings, cargo feature, settings and how to
//! build each — written once, generically over [`StoreConfig`].
//!
//! ```
//! use strongroom::providers::{provider, PROVIDERS};
//! assert_eq!(provider("HashiCorp_Vault").unwrap().name, "hcp-vault");
//! assert!(PROVIDERS.iter().any(|p| p.name == "file" && p.is_compiled()));
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use strongroom_core::config::{FieldInfo, FieldKind, ProviderConfig, Settings, StoreConfig};
use strongroom_core::{Error, Result, SecretStore};

use crate::builtin::{EnvConfig, FileConfig, MemoryConfig};

/// What building a store may need besides its own settings.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// Environment variables an environment-backed store must never return: every variable
    /// the configuration uses as a credential.
    pub denied_env: BTreeSet<String>,
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

#[derive(Clone, Copy)]
struct Hooks {
    fields: fn() -> Vec<FieldInfo>,
    from_settings: fn(&Settings, &BuildContext) -> Result<Arc<dyn SecretStore>>,
    from_lookup: fn(Lookup<'_>, &BuildContext) -> Result<Arc<dyn SecretStore>>,
}

fn store_from_settings<C: StoreConfig>(
    s: &Settings,
    _: &BuildContext,
) -> Result<Arc<dyn SecretStore>> {
    Ok(Arc::new(C::from_settings(s)?.build()?))
}

fn store_from_lookup<C: StoreConfig>(
    l: Lookup<'_>,
    _: &BuildContext,
) -> Result<Arc<dyn SecretStore>> {
    Ok(Arc::new(C::from_lookup(l)?.build()?))
}

fn env_from_settings(s: &Settings, ctx: &BuildContext) -> Result<Arc<dyn SecretStore>> {
    let mut c = EnvConfig::from_settings(s)?;
    c.deny.extend(ctx.denied_env.iter().cloned());
    Ok(Arc::new(c.build()?))
}

fn env_from_lookup(l: Lookup<'_>, ctx: &BuildContext) -> Result<Arc<dyn SecretStore>> {
    let mut c = EnvConfig::from_lookup(l)?;
    c.deny.extend(ctx.denied_env.iter().cloned());
    Ok(Arc::new(c.build()?))
}

impl Hooks {
    const fn of<C: StoreConfig>() -> Hooks {
        Hooks {
            fields: C::fields,
            from_settings: store_from_settings::<C>,
            from_lookup: store_from_lookup::<C>,
        }
    }
}

/// One provider a configuration may name.
#[derive(Clone, Copy)]
pub struct Provider {
    /// The canonical name (`hcp-vault`).
    pub name: &'static str,
    /// Every spelling accepted for it (lower case; `_` and `-` are the same).
    pub spellings: &'static [&'static str],
    /// The cargo feature that compiles it in (`None` for the built-in stores).
    pub feature: Option<&'static str>,
    /// The LiteLLM `key_management_system` value naming it, when LiteLLM has one.
    pub litellm: Option<&'static str>,
    /// Credential variables the provider's SDK or default chain reads besides its declared
    /// settings (`AWS_SESSION_TOKEN`, `IDENTITY_HEADER`, …): never handed to a child process.
    pub implicit_credentials: &'static [&'static str],
    hooks: Option<Hooks>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("feature", &self.feature)
            .field("compiled", &self.is_compiled())
            .finish()
    }
}

macro_rules! provider {
    ($name:literal, [$($s:literal),*], $litellm:expr, [$($c:literal),*], $feature:tt, $config:ty) => {
        Provider {
            name: $name,
            spellings: &[$($s),*],
            feature: Some($feature),
            litellm: $litellm,
            implicit_credentials: &[$($c),*],
            #[cfg(feature = $feature)]
            hooks: Some(Hooks::of::<$config>()),
            #[cfg(not(feature = $feature))]
            hooks: None,
        }
    };
}

/// Every provider, built in or behind a feature.
pub static PROVIDERS: &[Provider] = &[
    Provider {
        name: "file",
        spellings: &["file", "local-file"],
        feature: None,
        litellm: None,
        implicit_credentials: &[],
        hooks: Some(Hooks::of::<FileConfig>()),
    },
    Provider {
        name: "env",
        spellings: &["env", "environment", "local"],
        feature: None,
        litellm: Some("local"),
        implicit_credentials: &[],
        hooks: Some(Hooks {
            fields: EnvConfig::fields,
            from_settings: env_from_settings,
            from_lookup: env_from_lookup,
        }),
    },
    Provider {
        name: "memory",
        spellings: &["memory"],
        feature: None,
        litellm: None,
        implicit_credentials: &[],
        hooks: Some(Hooks::of::<MemoryConfig>()),
    },
    provider!(
        "conjur",
        ["conjur", "cyberark", "cyberark-conjur"],
        Some("cyberark"),
        ["CONJUR_AUTHN_API_KEY", "CONJUR_AUTHN_TOKEN"],
        "conjur",
        strongroom_conjur::ConjurConfig
    ),
    provider!(
        "hcp-vault",
        ["hcp-vault", "vault", "hashicorp-vault", "openbao"],
        Some("hashicorp_vault"),
        [
            "VAULT_TOKEN",
            "HCP_VAULT_TOKEN",
            "HCP_VAULT_APPROLE_SECRET_ID"
        ],
        "hcp-vault",
        strongroom_hcp_vault::HcpVaultConfig
    ),
    provider!(
        "akeyless",
        ["akeyless"],
        Some("akeyless"),
        ["AKEYLESS_ACCESS_KEY", "AKEYLESS_TOKEN"],
        "akeyless",
        strongroom_akeyless::AkeylessConfig
    ),
    provider!(
        "aws",
        ["aws", "aws-secret-manager", "aws-secrets-manager"],
        Some("aws_secret_manager"),
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN"
        ],
        "aws",
        strongroom_aws::AwsConfig
    ),
    provider!(
        "azure",
        ["azure", "azure-key-vault"],
        Some("azure_key_vault"),
        [
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PASSWORD",
            "AZURE_PASSWORD",
            "IDENTITY_HEADER",
            "MSI_SECRET"
        ],
        "azure",
        strongroom_azure::AzureConfig
    ),
    provider!(
        "gcp",
        [
            "gcp",
            "google",
            "google-secret-manager",
            "gcp-secret-manager"
        ],
        Some("google_secret_manager"),
        [],
        "gcp",
        strongroom_gcp::GcpConfig
    ),
];

/// The provider a configuration names, by any accepted spelling.
pub fn provider(name: &str) -> Option<&'static Provider> {
    let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
    PROVIDERS
        .iter()
        .find(|p| p.spellings.iter().any(|s| *s == wanted))
}

/// The provider for `name`, or an error listing the known ones.
pub fn provider_or_error(setting: &str, name: &str) -> Result<&'static Provider> {
    provider(name).ok_or_else(|| {
        let known: Vec<&str> = PROVIDERS.iter().map(|p| p.name).collect();
        let mut msg = format!("unknown provider `{name}`");
        let spellings = PROVIDERS.iter().flat_map(|p| p.spellings.iter().copied());
        if let Some(s) = strongroom_core::config::did_you_mean(name, spellings) {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        Error::config(setting, msg).with_hint(format!("the providers are: {}", known.join(", ")))
    })
}

impl Provider {
    /// Whether its feature is on in this build.
    pub fn is_compiled(&self) -> bool {
        self.hooks.is_some()
    }

    /// Its settings ([`ProviderConfig::fields`]), when compiled in.
    pub fn fields(&self) -> Option<Vec<FieldInfo>> {
        self.hooks.map(|h| (h.fields)())
    }

    /// The kind of the setting `key`, when compiled in and known.
    pub fn field_kind(&self, key: &str) -> Option<FieldKind> {
        self.fields()?
            .into_iter()
            .find(|f| f.key == key)
            .map(|f| f.kind)
    }

    /// Every environment variable this provider reads as a credential: its credential
    /// settings' variables and [`Provider::implicit_credentials`].
    pub fn credential_variables(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .fields()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f.kind == FieldKind::Credential)
            .flat_map(|f| f.env)
            .collect();
        for c in self.implicit_credentials {
            if !out.iter().any(|o| o == c) {
                out.push((*c).to_owned());
            }
        }
        out
    }

    fn hooks(&self) -> Result<Hooks> {
        self.hooks.ok_or_else(|| {
            let feature = self.feature.unwrap_or(self.name);
            Error::config("provider", format!("provider `{}` is not compiled in", self.name))
                .with_hint(format!(
                    "enable the `{feature}` feature of the strongroom crate (or `full`), e.g. `strongroom = {{ version = \"0.1\", features = [\"{feature}\"] }}`"
                ))
        })
    }

    /// Builds a store from a manager's settings (exact keys; unknown keys are refused).
    pub fn build(&self, settings: &Settings, ctx: &BuildContext) -> Result<Arc<dyn SecretStore>> {
        (self.hooks()?.from_settings)(settings, ctx)
    }

    /// Builds a store from the provider's declared environment variables, read through
    /// `lookup` (exact names only; nothing else in the environment is looked at).
    pub fn build_from_lookup(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        ctx: &BuildContext,
    ) -> Result<Arc<dyn SecretStore>> {
        (self.hooks()?.from_lookup)(lookup, ctx)
    }

    /// Builds a store from the process environment (`XxxConfig::from_env()`).
    pub fn build_from_env(&self, ctx: &BuildContext) -> Result<Arc<dyn SecretStore>> {
        self.build_from_lookup(&|k| std::env::var(k).ok(), ctx)
    }
}

/// Builds the backend store of one manager from its provider name and settings.
pub fn build_store(provider: &str, settings: &Settings) -> Result<Arc<dyn SecretStore>> {
    provider_or_error("provider", provider)?.build(settings, &BuildContext::default())
}
