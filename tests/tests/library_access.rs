//! The library's access paths (issue 16.4 and 16.8): every accessor of a `Registry` and of
//! `blocking::Client` takes the caller's groups and refuses a manager the groups do not admit;
//! the cache as a caller sees it holds only that caller's managers' entries; `Debug` of the
//! configuration redacts credentials.

use strongroom::config::Config;
use strongroom::{ErrorKind, ReadOptions, Registry, SecretName, SecretStore, WriteOptions};

const TOML: &str = r#"
default_manager = "ops"

[managers.ops]
provider = "memory"
access_mode = "read_and_write"
allowed_groups = ["ops"]

[managers.public]
provider = "memory"
access_mode = "read_and_write"
"#;

fn groups(g: &[&str]) -> Vec<String> {
    g.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn every_registry_accessor_checks_the_callers_groups() {
    let registry = Registry::from_toml_str(TOML).await.unwrap();
    let (ops, dev, none) = (groups(&["ops"]), groups(&["dev"]), groups(&[]));
    // manager
    assert_eq!(
        registry.manager("ops", &dev).unwrap_err().kind(),
        &ErrorKind::AccessDenied
    );
    assert!(registry.manager("ops", &ops).is_ok());
    assert!(registry.manager("public", &none).is_ok());
    // default_manager
    assert_eq!(
        registry.default_manager(&none).unwrap_err().kind(),
        &ErrorKind::AccessDenied
    );
    assert_eq!(registry.default_manager(&ops).unwrap().name(), "ops");
    // managers
    let seen: Vec<&str> = registry.managers(&dev).map(|m| m.name()).collect();
    assert_eq!(seen, ["public"]);
    let seen: Vec<&str> = registry.managers(&ops).map(|m| m.name()).collect();
    assert_eq!(seen, ["ops", "public"]);
    // render / resolver
    let name = SecretName::new("k").unwrap();
    let ops_store = registry.manager("ops", &ops).unwrap().store();
    ops_store
        .write(&name, "v".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        registry
            .render("${secret:ops/k}", &dev)
            .await
            .unwrap_err()
            .kind(),
        &ErrorKind::AccessDenied
    );
    assert_eq!(
        registry
            .render("${secret:ops/k}", &ops)
            .await
            .unwrap()
            .expose_str()
            .unwrap(),
        "v"
    );
}

#[tokio::test]
async fn the_cache_a_caller_sees_is_that_callers_managers_only() {
    let registry = Registry::from_toml_str(TOML).await.unwrap();
    let (ops, none) = (groups(&["ops"]), groups(&[]));
    let k = SecretName::new("k").unwrap();
    for (m, g) in [("ops", &ops), ("public", &none)] {
        let store = registry.manager(m, g).unwrap().store();
        store
            .write(&k, m.into(), &WriteOptions::new())
            .await
            .unwrap();
        store.read(&k, &ReadOptions::new()).await.unwrap().unwrap();
    }
    let public_view = registry.cache(&none).unwrap();
    let entries = public_view.entries().await.unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].1, ["public"]);
    let all = registry.cache(&ops).unwrap().entries().await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    // Clearing as the public caller leaves the ops entry in place.
    assert_eq!(public_view.clear().await.unwrap(), 1);
    let left = registry.cache(&ops).unwrap().entries().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].1, ["ops"]);
    assert_eq!(
        public_view
            .clear_secret("ops", &k)
            .await
            .unwrap_err()
            .kind(),
        &ErrorKind::AccessDenied
    );
}

#[test]
fn the_blocking_client_checks_the_callers_groups() {
    let client = strongroom::blocking::Client::from_toml_str(TOML).unwrap();
    let (ops, dev) = (groups(&["ops"]), groups(&["dev"]));
    assert_eq!(
        client.put("ops", "k", "v".into(), &dev).unwrap_err().kind(),
        &ErrorKind::AccessDenied
    );
    client.put("ops", "k", "v".into(), &ops).unwrap();
    assert_eq!(
        client.get("ops", "k", &dev).unwrap_err().kind(),
        &ErrorKind::AccessDenied
    );
    assert_eq!(
        client
            .get("ops", "k", &ops)
            .unwrap()
            .unwrap()
            .expose_str()
            .unwrap(),
        "v"
    );
    assert_eq!(
        client.list("ops", None, &dev).unwrap_err().kind(),
        &ErrorKind::AccessDenied
    );
    assert_eq!(
        client
            .delete("ops", "k", &Default::default(), &dev)
            .unwrap_err()
            .kind(),
        &ErrorKind::AccessDenied
    );
    assert_eq!(
        client.render("${secret:ops/k}", &dev).unwrap_err().kind(),
        &ErrorKind::AccessDenied
    );
    // The registry it hands out checks groups the same way.
    assert!(client.registry().manager("ops", &dev).is_err());
}

#[test]
fn debug_of_the_configuration_redacts_credentials() {
    let secrets = [
        "s.vault-token-4711",
        "conjur-api-key-4711",
        "aws-secret-4711",
        "azure-secret-4711",
        "akeyless-key-4711",
        "cXVpdGUtc2VjcmV0LXJlZGlzLWtleS00NzExLXh4eHg=",
        "redis-password-4711",
    ];
    let config = Config::from_toml(&format!(
        r#"
        [cache]
        kind = "redis"
        settings = {{ url = "redis://127.0.0.1:6379", key = "{5}", password = "{6}" }}
        [managers.vault]
        provider = "hcp-vault"
        settings = {{ addr = "https://vault.example", token = "{0}" }}
        [managers.conjur]
        provider = "conjur"
        settings = {{ api_base = "https://conjur.example", api_key = "{1}" }}
        [managers.aws]
        provider = "aws"
        settings = {{ region = "us-east-1", access_key_id = "AKIAEXAMPLE", secret_access_key = "{2}" }}
        [managers.azure]
        provider = "azure"
        settings = {{ uri = "https://v.vault.azure.net", client_secret = "{3}" }}
        [managers.akeyless]
        provider = "akeyless"
        settings = {{ access_id = "p-abc", access_key = "{4}" }}
        "#,
        secrets[0], secrets[1], secrets[2], secrets[3], secrets[4], secrets[5], secrets[6]
    ))
    .unwrap();
    let text = format!(
        "{config:?} {:?} {:?}",
        config.managers["vault"], config.cache
    );
    for s in secrets {
        assert!(!text.contains(s), "Debug shows a credential: {text}");
    }
    // What is not a credential stays readable.
    assert!(
        text.contains("https://vault.example") && text.contains("us-east-1"),
        "{text}"
    );
}
