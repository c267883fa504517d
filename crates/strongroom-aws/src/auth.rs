//! Credentials: an explicit access key, or the AWS default chain (environment, shared
//! profile files, SSO, web identity, container and instance metadata), optionally traded for
//! a role's through STS; and who is asking, for cache keys.
//!
//! The SDK keeps its own identity cache: role credentials and those of the default chain are
//! cached and refreshed by it before they expire, so this provider has no `TokenCache`.

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use strongroom_core::Result;
use strongroom_core::config::ProviderConfig;

use crate::config::AwsConfig;

/// Loads the SDK configuration of `config` (validated): credentials, region, the guarded HTTP
/// client for every call the SDK makes (the credential chain's included), timeouts, retries.
pub(crate) async fn sdk_config(config: &AwsConfig, http: SharedHttpClient) -> Result<SdkConfig> {
    let keys = static_credentials(config)?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(config.http.connect_timeout)
        .operation_timeout(config.http.timeout)
        .build();
    let attempts = u32::try_from(config.max_attempts).unwrap_or(1);
    let retry = RetryConfig::standard().with_max_attempts(attempts);
    let mut sdk = match &config.sdk_config {
        Some(base) => {
            let mut builder = base.clone().into_builder();
            if let Some(region) = &config.region {
                builder.set_region(Some(Region::new(region.clone())));
            }
            if let Some(creds) = keys {
                builder.set_credentials_provider(Some(SharedCredentialsProvider::new(creds)));
            }
            builder.set_http_client(Some(http));
            builder.set_timeout_config(Some(timeouts));
            builder.set_retry_config(Some(retry));
            builder.build()
        }
        None => {
            let mut loader = aws_config::defaults(BehaviorVersion::latest())
                .http_client(http)
                .timeout_config(timeouts)
                .retry_config(retry);
            if let Some(region) = &config.region {
                loader = loader.region(Region::new(region.clone()));
            }
            if let Some(profile) = &config.profile {
                loader = loader.profile_name(profile);
            }
            if let Some(creds) = keys {
                loader = loader.credentials_provider(creds);
            }
            loader.load().await
        }
    };
    if let Some(role) = &config.role_arn {
        let sts_base = match &config.sts_endpoint_url {
            Some(url) => sdk.clone().into_builder().endpoint_url(url).build(),
            None => sdk.clone(),
        };
        let mut provider = AssumeRoleProvider::builder(role.clone()).configure(&sts_base);
        if let Some(name) = &config.role_session_name {
            provider = provider.session_name(name.clone());
        }
        if let Some(id) = &config.role_external_id {
            provider = provider.external_id(id.clone());
        }
        let provider = provider.build().await;
        sdk = sdk
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    if sdk.region().is_none() {
        return Err(AwsConfig::field_error(
            "region",
            "no AWS region: set it, or give the profile a `region`",
        ));
    }
    if sdk.credentials_provider().is_none() {
        return Err(AwsConfig::field_error(
            "access_key_id",
            "no credentials provider is configured",
        ));
    }
    Ok(sdk)
}

/// The explicit access key, when one is configured.
fn static_credentials(config: &AwsConfig) -> Result<Option<Credentials>> {
    let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) else {
        return Ok(None);
    };
    let utf8 = |key: &str| AwsConfig::field_error(key, "is not UTF-8 text");
    let secret = secret.expose_str().map_err(|_| utf8("secret_access_key"))?;
    let token = match &config.session_token {
        Some(t) => Some(
            t.expose_str()
                .map_err(|_| utf8("session_token"))?
                .to_owned(),
        ),
        None => None,
    };
    Ok(Some(Credentials::new(
        id.clone(),
        secret.to_owned(),
        token,
        None,
        "strongroom",
    )))
}

/// Who asks, for cache keys: the role assumed, else the access key id, else the profile
/// (the default chain's identity is not known before the first call).
pub(crate) fn identity(config: &AwsConfig) -> String {
    match (&config.role_arn, &config.access_key_id, &config.profile) {
        (Some(role), _, _) => format!("role:{role}"),
        (None, Some(id), _) => format!("key:{id}"),
        (None, None, Some(p)) => format!("profile:{p}"),
        (None, None, None) => "default-chain".to_owned(),
    }
}
