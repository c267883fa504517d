//! Two managers over one backend never serve each other's stale values (issue 18.6): cache
//! entries are keyed by the backend object (address, identity, full name), not by manager, so a
//! write or delete through either manager drops the entry both read, and the entries of every
//! other identity over that object — on real OpenBao, with a 24 h TTL that would otherwise keep
//! the old value.

use strongroom::litellm::{KeyManagementSettings, VIRTUAL_KEYS_MANAGER};
use strongroom::{AccessMode, DeleteOptions, ReadOptions, Registry, SecretName, WriteOptions};
use strongroom_testkit::servers::openbao::OpenBao;

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

async fn value(registry: &Registry, manager: &str, secret: &str) -> Option<String> {
    registry
        .manager(manager, &[])
        .unwrap()
        .store()
        .read(&name(secret), &ReadOptions::new())
        .await
        .unwrap()
        .map(|s| s.value.expose_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_litellm_managers_over_one_vault_see_each_others_writes() {
    let bao = OpenBao::start().await;
    let env = |k: &str| match k {
        "HCP_VAULT_ADDR" => Some(bao.url()),
        "HCP_VAULT_TOKEN" => Some(bao.root_token().to_owned()),
        _ => None,
    };
    let settings: KeyManagementSettings =
        serde_json::from_str(r#"{"access_mode": "read_and_write", "store_virtual_keys": true}"#)
            .unwrap();
    let registry = Registry::from_litellm("hashicorp_vault", &settings, &env)
        .await
        .unwrap();
    let default = registry.default_manager(&[]).unwrap().name().to_owned();
    let vk = registry.manager(VIRTUAL_KEYS_MANAGER, &[]).unwrap().store();

    // The default manager reads (and caches, for a day) the stored virtual key.
    vk.write(&name("sk-1"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        value(&registry, &default, "litellm/sk-1").await.as_deref(),
        Some("v1")
    );
    // A write through the virtual-keys manager: the default manager sees it at once.
    vk.write(&name("sk-1"), "v2".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        value(&registry, &default, "litellm/sk-1").await.as_deref(),
        Some("v2")
    );
    assert_eq!(
        value(&registry, VIRTUAL_KEYS_MANAGER, "sk-1")
            .await
            .as_deref(),
        Some("v2")
    );
    // And the other way round: a write through the default manager.
    registry
        .manager(&default, &[])
        .unwrap()
        .store()
        .write(&name("litellm/sk-1"), "v3".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        value(&registry, VIRTUAL_KEYS_MANAGER, "sk-1")
            .await
            .as_deref(),
        Some("v3")
    );
    // A delete through one is a miss through the other.
    vk.delete(&name("sk-1"), &DeleteOptions::new())
        .await
        .unwrap();
    assert_eq!(value(&registry, &default, "litellm/sk-1").await, None);
    assert_eq!(
        registry.manager(&default, &[]).unwrap().access_mode(),
        AccessMode::ReadAndWrite
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_managers_over_one_vault_see_each_others_writes_whatever_their_token() {
    let bao = OpenBao::start().await;
    let other_token = bao
        .create_token(None, &["default", "root"], Some("1h"))
        .await;
    let config = format!(
        r#"
        [cache]
        kind = "memory"
        [managers.all]
        provider = "hcp-vault"
        access_mode = "read_and_write"
        cache = {{ ttl = "24h" }}
        settings = {{ addr = "{url}", token = "{root}" }}
        [managers.app]
        provider = "hcp-vault"
        access_mode = "read_and_write"
        prefix = "app/"
        cache = {{ ttl = "24h" }}
        settings = {{ addr = "{url}", token = "{root}" }}
        [managers.other]
        provider = "hcp-vault"
        access_mode = "read_and_write"
        cache = {{ ttl = "24h" }}
        settings = {{ addr = "{url}", token = "{other}" }}
        "#,
        url = bao.url(),
        root = bao.root_token(),
        other = other_token,
    );
    let registry = Registry::from_toml_str(&config).await.unwrap();
    let app = registry.manager("app", &[]).unwrap().store();
    app.write(&name("db"), "v1".into(), &WriteOptions::new())
        .await
        .unwrap();
    assert_eq!(
        value(&registry, "all", "app/db").await.as_deref(),
        Some("v1")
    );
    assert_eq!(
        value(&registry, "other", "app/db").await.as_deref(),
        Some("v1")
    );
    app.write(&name("db"), "v2".into(), &WriteOptions::new())
        .await
        .unwrap();
    // Same backend object, same identity: the write dropped the shared entry.
    assert_eq!(
        value(&registry, "all", "app/db").await.as_deref(),
        Some("v2")
    );
    // Another token keeps entries of its own, and the write dropped those too.
    assert_eq!(
        value(&registry, "other", "app/db").await.as_deref(),
        Some("v2")
    );
    // The scopes (address + identity) of the managers say who shares what.
    let scope = |m: &str| registry.manager(m, &[]).unwrap().cache_scope();
    assert_eq!(scope("all"), scope("app"));
    assert_ne!(
        scope("all"),
        scope("other"),
        "another token never shares an entry"
    );
}
