//! Credentials and the SDK client.
//!
//! The AWS SDK keeps its own credential cache: role credentials from STS and credentials from
//! the default chain are cached and refreshed by the SDK's identity cache before they expire,
//! so this provider does not use `strongroom_core::TokenCache`.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_secretsmanager::Client;
use strongroom_core::{Error, Result};

use crate::config::{AwsBuilder, StaticKeys, env};

/// The SDK's own default connect timeout (kept when only an operation timeout is set).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// Loads the SDK configuration for `b` and builds the Secrets Manager client.
pub(crate) async fn client(b: &AwsBuilder) -> Result<Client> {
    let mut sdk = base_config(b).await?;
    if let Some(role) = &b.role {
        let sts_base = match &role.sts_endpoint_url {
            Some(url) => sdk.clone().into_builder().endpoint_url(url).build(),
            None => sdk.clone(),
        };
        let mut provider = AssumeRoleProvider::builder(role.role_arn.clone()).configure(&sts_base);
        if let Some(name) = &role.session_name {
            provider = provider.session_name(name.clone());
        }
        if let Some(id) = &role.external_id {
            provider = provider.external_id(id.clone());
        }
        let provider = provider.build().await;
        sdk = sdk
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    if sdk.region().is_none() {
        return Err(Error::config(
            env::AWS_REGION,
            "no AWS region: set it with `with_region`, AWS_REGION or the profile's `region`",
        ));
    }
    if sdk.credentials_provider().is_none() {
        return Err(Error::config(
            env::AWS_ACCESS_KEY_ID,
            "no credentials provider is configured",
        ));
    }
    let mut conf = aws_sdk_secretsmanager::config::Builder::from(&sdk);
    if let Some(url) = &b.endpoint_url {
        conf = conf.endpoint_url(url);
    }
    Ok(Client::from_conf(conf.build()))
}

async fn base_config(b: &AwsBuilder) -> Result<SdkConfig> {
    let keys = b.keys.as_ref().map(static_credentials).transpose()?;
    let timeouts = timeout_config(b);
    let retry = b
        .max_attempts
        .map(|n| RetryConfig::standard().with_max_attempts(n));
    if let Some(base) = &b.sdk_config {
        let mut builder = base.clone().into_builder();
        if let Some(region) = &b.region {
            builder.set_region(Some(Region::new(region.clone())));
        }
        if let Some(creds) = keys {
            builder.set_credentials_provider(Some(SharedCredentialsProvider::new(creds)));
        }
        if let Some(t) = timeouts {
            builder.set_timeout_config(Some(t));
        }
        if let Some(r) = retry {
            builder.set_retry_config(Some(r));
        }
        return Ok(builder.build());
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &b.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &b.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(creds) = keys {
        loader = loader.credentials_provider(creds);
    }
    if let Some(t) = timeouts {
        loader = loader.timeout_config(t);
    }
    if let Some(r) = retry {
        loader = loader.retry_config(r);
    }
    Ok(loader.load().await)
}

fn timeout_config(b: &AwsBuilder) -> Option<TimeoutConfig> {
    if b.timeout.is_none() && b.connect_timeout.is_none() {
        return None;
    }
    let mut t = TimeoutConfig::builder()
        .connect_timeout(b.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT));
    if let Some(op) = b.timeout {
        t = t.operation_timeout(op);
    }
    Some(t.build())
}

fn static_credentials(keys: &StaticKeys) -> Result<Credentials> {
    let secret = keys
        .secret_access_key
        .expose_str()
        .map_err(|_| Error::config(env::AWS_SECRET_ACCESS_KEY, "is not UTF-8 text"))?;
    let token = match &keys.session_token {
        Some(t) => Some(
            t.expose_str()
                .map_err(|_| Error::config("AWS_SESSION_TOKEN", "is not UTF-8 text"))?
                .to_owned(),
        ),
        None => None,
    };
    Ok(Credentials::new(
        keys.access_key_id.clone(),
        secret.to_owned(),
        token,
        None,
        "strongroom",
    ))
}
