//! Client certificates: presented in the TLS handshake with the API-key log-in, and the
//! `authn-cert` authenticator (empty body, identity from the certificate).

mod common;

use std::io::Write;
use strongroom_core::HttpSetters as _;

use strongroom_conjur::ConjurBuilder;
use strongroom_core::{ErrorKind, ReadOptions, SecretStore, SecretValue, WriteOptions};
use strongroom_testkit::fakes::conjur::{FakeConjur, FakeConjurConfig};

use common::{fast_retry, name};

async fn mtls_fake() -> FakeConjur {
    FakeConjur::start_mtls(FakeConjurConfig {
        authn_cert_service_id: "certs".into(),
        policy_retry_after: (0, 0),
        ..FakeConjurConfig::default()
    })
    .await
}

#[tokio::test]
async fn api_key_login_presents_the_client_certificate_from_files() {
    let fake = mtls_fake().await;
    fake.set_value("m/x", b"v");
    let (cert, key) = fake.issue_client_cert("admin");
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, text: &str| {
        let p = dir.path().join(file);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    };
    let (cert_path, key_path, ca_path) = (
        write("client.pem", &cert),
        write("client.key", &key),
        write("ca.pem", &fake.ca().unwrap().ca_pem),
    );
    let vars = [
        ("CYBERARK_API_BASE", fake.url()),
        ("CYBERARK_ACCOUNT", fake.account()),
        ("CYBERARK_USERNAME", fake.login()),
        ("CYBERARK_API_KEY", fake.api_key()),
        ("CYBERARK_CLIENT_CERT", cert_path.display().to_string()),
        ("CYBERARK_CLIENT_KEY", key_path.display().to_string()),
        ("CYBERARK_CA_CERT", ca_path.display().to_string()),
    ];
    let store =
        ConjurBuilder::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
            .unwrap()
            .with_retry_policy(fast_retry())
            .build()
            .unwrap();
    let got = store.read(&name("m/x"), &ReadOptions::new()).await.unwrap();
    assert_eq!(got.unwrap().value.expose_str().unwrap(), "v");
    assert_eq!(fake.authn_count(), 1);
    assert_eq!(
        fake.authn_with_client_cert_count(),
        1,
        "the certificate rode along"
    );
    assert_eq!(fake.authn_cert_count(), 0);
}

#[tokio::test]
async fn authn_cert_logs_in_with_the_certificate_alone() {
    let fake = mtls_fake().await;
    let (cert, key) = fake.issue_client_cert("host/app");
    let store = ConjurBuilder::new()
        .with_api_base(fake.url())
        .with_account(fake.account())
        .with_login("host/app")
        .with_authn_cert("certs")
        .with_client_cert_pem(cert.clone(), SecretValue::from(key.clone()))
        .with_ca_pem(fake.ca().unwrap().ca_pem.clone())
        .with_retry_policy(fast_retry())
        .build()
        .unwrap();
    store
        .write(&name("m/y"), "w".into(), &WriteOptions::new())
        .await
        .unwrap();
    let got = store.read(&name("m/y"), &ReadOptions::new()).await.unwrap();
    assert_eq!(got.unwrap().value.expose_str().unwrap(), "w");
    assert_eq!(fake.authn_cert_count(), 1);
    assert_eq!(fake.authn_count(), 0);
    let login = &fake.requests()[0];
    assert_eq!(
        login.uri,
        "/authn-cert/certs/default/host%2Fapp/authenticate"
    );
    assert_eq!(login.body_len, 0, "authn-cert posts an empty body");

    // SPIFFE mode: no host in the path, the server derives it from the certificate.
    let spiffe = ConjurBuilder::new()
        .with_api_base(fake.url())
        .with_account(fake.account())
        .with_login("host/app")
        .with_authn_cert("certs")
        .with_authn_cert_host_in_path(false)
        .with_client_cert_pem(cert, SecretValue::from(key))
        .with_ca_pem(fake.ca().unwrap().ca_pem.clone())
        .build()
        .unwrap();
    assert!(
        spiffe
            .read(&name("m/y"), &ReadOptions::new())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(fake.authn_cert_count(), 2);
}

#[tokio::test]
async fn authn_cert_without_a_matching_certificate_is_unauthorized() {
    let fake = mtls_fake().await;
    // A certificate for another host.
    let (cert, key) = fake.issue_client_cert("host/other");
    let store = ConjurBuilder::new()
        .with_api_base(fake.url())
        .with_account(fake.account())
        .with_login("host/app")
        .with_authn_cert("certs")
        .with_client_cert_pem(cert, SecretValue::from(key))
        .with_ca_pem(fake.ca().unwrap().ca_pem.clone())
        .build()
        .unwrap();
    let err = store
        .read(&name("m/z"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized, "{err}");
}

#[tokio::test]
async fn an_untrusted_server_certificate_is_refused() {
    let fake = mtls_fake().await;
    let store = ConjurBuilder::new()
        .with_api_base(fake.url())
        .with_account(fake.account())
        .with_api_key(fake.api_key())
        .with_retry_policy(strongroom_core::RetryPolicy::none())
        .build()
        .unwrap();
    let err = store
        .read(&name("m/z"), &ReadOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unavailable, "{err}");
    // CYBERARK_SSL_VERIFY=false accepts it (development only).
    let insecure = ConjurBuilder::from_lookup(|k| match k {
        "CYBERARK_API_BASE" => Some(fake.url()),
        "CYBERARK_API_KEY" => Some(fake.api_key()),
        "CYBERARK_SSL_VERIFY" => Some("false".into()),
        _ => None,
    })
    .unwrap()
    .build()
    .unwrap();
    assert!(
        insecure
            .read(&name("m/z"), &ReadOptions::new())
            .await
            .unwrap()
            .is_none()
    );
}
