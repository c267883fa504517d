//! Redis key names: keyed digests, so reading Redis does not reveal which secrets exist.
//!
//! For a key of the ring (a *namespace*), with `P` the prefix:
//!
//! ```text
//! P S :{ T }: v: V    the sealed entry of one read variant
//! P S :{ T }: l: V    the fill lease of that variant (fleet-wide single-flight)
//! P S :{ T }: i       the set of the secret's variant ids (invalidation without SCAN)
//! P S :{ T }: g       the secret's generation (moved by every invalidation)
//! ```
//!
//! `S` = digest of the scope, `T` = digest of (scope, full name), `V` = digest of (T, version,
//! stage, field) — each 128 bits of HMAC-SHA256 under the ring key's digest key
//! ([`SealKey::digest`]), in hex. `{T}` is a Redis Cluster hash tag: every key of one secret
//! lives in one slot, so one script can touch them all; different secrets spread over the
//! cluster. A prefix may not contain `{` or `}` (it would move the hash tag).

use std::fmt;

use strongroom_core::seal::SealKey;
use strongroom_core::{CacheKey, CacheScope, ReadOptions};

/// Bytes of each digest kept in names.
pub(crate) const TAG_LEN: usize = 16;

/// The digest of a secret (scope and full name) in one namespace: what invalidation messages
/// carry instead of the name.
///
/// ```
/// # use strongroom_redis::NameTag;
/// # fn demo(tag: NameTag) { assert_eq!(tag.to_string().len(), 32); }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameTag(pub(crate) [u8; TAG_LEN]);

impl NameTag {
    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; TAG_LEN] {
        &self.0
    }
}

impl fmt::Display for NameTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for NameTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameTag({self})")
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn tag(digest: [u8; 32]) -> [u8; TAG_LEN] {
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&digest[..TAG_LEN]);
    out
}

fn put(buf: &mut Vec<u8>, part: Option<&str>) {
    match part {
        None => buf.push(0),
        Some(p) => {
            buf.push(1);
            buf.extend_from_slice(&(p.len() as u64).to_be_bytes());
            buf.extend_from_slice(p.as_bytes());
        }
    }
}

/// The digests of one cache key in one namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tags {
    pub(crate) scope: [u8; TAG_LEN],
    pub(crate) name: NameTag,
    pub(crate) variant: [u8; TAG_LEN],
}

impl Tags {
    /// `T || V`: identifies one variant of one secret in this process's maps.
    pub(crate) fn id(&self) -> [u8; 2 * TAG_LEN] {
        let mut out = [0u8; 2 * TAG_LEN];
        out[..TAG_LEN].copy_from_slice(&self.name.0);
        out[TAG_LEN..].copy_from_slice(&self.variant);
        out
    }
}

/// One namespace: the names derived from one key of the ring.
#[derive(Clone)]
pub(crate) struct Namespace {
    key: SealKey,
    prefix: std::sync::Arc<str>,
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace").field("key", &self.key).finish()
    }
}

impl Namespace {
    pub(crate) fn new(key: SealKey, prefix: std::sync::Arc<str>) -> Namespace {
        Namespace { key, prefix }
    }

    pub(crate) fn scope_tag(&self, scope: CacheScope) -> [u8; TAG_LEN] {
        tag(self.key.digest(b"strongroom-redis scope", scope.as_bytes()))
    }

    pub(crate) fn name_tag(&self, scope: CacheScope, name: &str) -> NameTag {
        let mut data = Vec::with_capacity(16 + name.len());
        data.extend_from_slice(scope.as_bytes());
        data.extend_from_slice(name.as_bytes());
        NameTag(tag(self.key.digest(b"strongroom-redis name", &data)))
    }

    fn variant_tag(&self, name: NameTag, opts: &ReadOptions) -> [u8; TAG_LEN] {
        let mut data = Vec::with_capacity(64);
        data.extend_from_slice(&name.0);
        put(&mut data, opts.version.as_deref());
        put(&mut data, opts.stage.as_deref());
        put(&mut data, opts.field.as_deref());
        tag(self.key.digest(b"strongroom-redis variant", &data))
    }

    /// Every digest of `key`.
    pub(crate) fn tags(&self, key: &CacheKey) -> Tags {
        let name = self.name_tag(key.scope(), key.name().as_str());
        let opts = key.read_options();
        Tags {
            scope: self.scope_tag(key.scope()),
            name,
            variant: self.variant_tag(name, &opts),
        }
    }

    /// `P S :{ T }:` — what every key of one secret starts with.
    pub(crate) fn base(&self, scope: &[u8; TAG_LEN], name: NameTag) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 2 * TAG_LEN * 2 + 8);
        k.extend_from_slice(self.prefix.as_bytes());
        k.extend_from_slice(hex(scope).as_bytes());
        k.extend_from_slice(b":{");
        k.extend_from_slice(hex(&name.0).as_bytes());
        k.extend_from_slice(b"}:");
        k
    }

    fn with(&self, tags: &Tags, what: &[u8], variant: bool) -> Vec<u8> {
        let mut k = self.base(&tags.scope, tags.name);
        k.extend_from_slice(what);
        if variant {
            k.extend_from_slice(hex(&tags.variant).as_bytes());
        }
        k
    }

    pub(crate) fn entry_key(&self, tags: &Tags) -> Vec<u8> {
        self.with(tags, b"v:", true)
    }

    pub(crate) fn lease_key(&self, tags: &Tags) -> Vec<u8> {
        self.with(tags, b"l:", true)
    }

    pub(crate) fn index_key(&self, tags: &Tags) -> Vec<u8> {
        self.with(tags, b"i", false)
    }

    pub(crate) fn generation_key(&self, tags: &Tags) -> Vec<u8> {
        self.with(tags, b"g", false)
    }

    /// `P S :` — the start of every key of `scope`.
    pub(crate) fn scope_prefix(&self, scope: CacheScope) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 2 * TAG_LEN + 1);
        k.extend_from_slice(self.prefix.as_bytes());
        k.extend_from_slice(hex(&self.scope_tag(scope)).as_bytes());
        k.push(b':');
        k
    }
}

/// Whether `redis_key` (under `prefix`) names a sealed entry (`… }:v:<32 hex>`).
pub(crate) fn is_entry_key(prefix: &str, redis_key: &[u8]) -> bool {
    let Some(rest) = redis_key.strip_prefix(prefix.as_bytes()) else {
        return false;
    };
    // S(32) ":{" T(32) "}:" "v:" V(32)
    rest.len() == 32 + 2 + 32 + 2 + 2 + 32 && &rest[32..34] == b":{" && &rest[66..70] == b"}:v:"
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_core::{Identity, SecretName};

    fn ns(key: &SealKey) -> Namespace {
        Namespace::new(key.clone(), "app:".into())
    }

    #[test]
    fn names_hide_the_secret_and_group_one_secret_in_one_slot() {
        let k = SealKey::generate();
        let scope = CacheScope::of("vault", &Identity::anonymous());
        let name = SecretName::new("db/password").unwrap();
        let plain = CacheKey::new(scope, &name, &ReadOptions::new());
        let field = CacheKey::new(scope, &name, &ReadOptions::new().field("user"));
        let (a, b) = (ns(&k).tags(&plain), ns(&k).tags(&field));
        assert_eq!(a.name, b.name);
        assert_ne!(a.variant, b.variant);
        let entry = ns(&k).entry_key(&a);
        let text = String::from_utf8(entry.clone()).unwrap();
        assert!(
            !text.contains("db/") && !text.contains("password"),
            "{text}"
        );
        assert!(text.starts_with("app:"));
        assert!(is_entry_key("app:", &entry));
        assert!(!is_entry_key("app:", &ns(&k).lease_key(&a)));
        assert!(!is_entry_key("app:", &ns(&k).index_key(&a)));
        // One hash tag for every key of the secret.
        let hashtag = |key: &[u8]| {
            let s = String::from_utf8(key.to_vec()).unwrap();
            let open = s.find('{').unwrap();
            let close = s[open..].find('}').unwrap() + open;
            s[open + 1..close].to_owned()
        };
        let t = hashtag(&entry);
        for key in [
            ns(&k).entry_key(&b),
            ns(&k).lease_key(&a),
            ns(&k).index_key(&a),
            ns(&k).generation_key(&a),
        ] {
            assert_eq!(hashtag(&key), t);
        }
        assert!(entry.starts_with(&ns(&k).scope_prefix(scope)));
        // Another key, another namespace; another scope, other names.
        let other = ns(&SealKey::generate()).tags(&plain);
        assert_ne!(other.name, a.name);
        let scope2 = CacheScope::of("vault", &Identity::of(&[b"someone else"]));
        let c = ns(&k).tags(&CacheKey::new(scope2, &name, &ReadOptions::new()));
        assert_ne!(c.name, a.name);
        assert_ne!(c.scope, a.scope);
    }
}
