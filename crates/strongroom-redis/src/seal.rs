//! The sealed envelope: the whole cache entry — and the scope, full name and variant it belongs
//! to — under core's [`KeyRing`] (AES-256-GCM, HKDF-derived keys), bound to its Redis key.
//!
//! A Redis value is `[format = 2] || SealKey envelope` where the envelope is
//! `key id (8) || nonce (12) || ciphertext || tag (16)`. The associated data is
//! `"strongroom-redis/2" || format || redis key`, so an envelope copied to another key (another
//! secret, variant, scope or prefix) does not open. Nothing about the entry is in clear: not
//! its name, not its freshness.
//!
//! The nonce (random per seal) doubles as the *fill id* of an entry: the lease script compares
//! it with the one this process saw last, to tell a new fill from the entry it already had.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strongroom_core::seal::{KEY_ID_LEN, KeyRing};
use strongroom_core::{
    CacheEntry, CacheKey, CacheScope, ReadOptions, Secret, SecretKind, SecretName, SecretValue,
};
use zeroize::{Zeroize, Zeroizing};

/// The first byte of every value this crate writes.
pub(crate) const FORMAT: u8 = 2;
const AAD_LABEL: &[u8] = b"strongroom-redis/2";
/// Where the nonce sits in a Redis value (after the format byte and the key id).
pub(crate) const NONCE_AT: usize = 1 + KEY_ID_LEN;
/// Bytes of the nonce.
pub(crate) const NONCE_LEN: usize = 12;

/// The fill id of a Redis value: its nonce (unique per seal). `None` for values too short to
/// be ours.
pub(crate) fn fill_id(value: &[u8]) -> Option<[u8; NONCE_LEN]> {
    value.get(NONCE_AT..NONCE_AT + NONCE_LEN)?.try_into().ok()
}

/// An entry as it was sealed: what it belongs to, and the entry.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) scope: CacheScope,
    pub(crate) name: SecretName,
    pub(crate) opts: ReadOptions,
    pub(crate) entry: CacheEntry,
}

impl Opened {
    /// Whether this is the entry of `key` (the associated data already binds the envelope to
    /// its Redis key; this also checks what was sealed inside).
    pub(crate) fn is_for(&self, key: &CacheKey) -> bool {
        self.scope == key.scope()
            && self.name == *key.name()
            && CacheKey::new(self.scope, &self.name, &self.opts) == *key
    }
}

/// Why an envelope did not open (logged; never contains key or value material).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Too short or an unknown format byte.
    Malformed,
    /// No configured key opened it (unknown key id, wrong key, tampered, or copied from
    /// another Redis key).
    Authentication,
    /// Authenticated, but the plaintext did not decode.
    Encoding,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Malformed => f.write_str("not a strongroom envelope"),
            OpenError::Authentication => f.write_str(
                "did not authenticate (unknown or wrong key, tampered, or copied from another key)",
            ),
            OpenError::Encoding => f.write_str("authenticated but undecodable"),
        }
    }
}

fn aad(redis_key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 1 + redis_key.len());
    aad.extend_from_slice(AAD_LABEL);
    aad.push(FORMAT);
    aad.extend_from_slice(redis_key);
    aad
}

/// Seals `entry` of `key` for the Redis key `redis_key`.
pub(crate) fn seal(
    ring: &KeyRing,
    redis_key: &[u8],
    key: &CacheKey,
    entry: &CacheEntry,
) -> Vec<u8> {
    let mut plain = Zeroizing::new(Vec::with_capacity(encoded_len(key, entry)));
    encode(key, entry, &mut plain);
    let sealed = ring.seal(&aad(redis_key), &plain);
    let mut out = Vec::with_capacity(1 + sealed.len());
    out.push(FORMAT);
    out.extend_from_slice(&sealed);
    out
}

/// Opens a value read from `redis_key` with whichever ring key sealed it.
pub(crate) fn open(ring: &KeyRing, redis_key: &[u8], value: &[u8]) -> Result<Opened, OpenError> {
    let Some((&FORMAT, sealed)) = value.split_first() else {
        return Err(OpenError::Malformed);
    };
    let plain = ring
        .open(&aad(redis_key), sealed)
        .map_err(|_| OpenError::Authentication)?;
    decode(&plain).ok_or(OpenError::Encoding)
}

// ---- plaintext encoding -------------------------------------------------------------------
//
// str  = u32 BE length + bytes
// opt  = 0 | 1 + item
// time = 0 (after epoch) | 1 (before) + u64 secs + u32 nanos
// body = scope (16), str name, opt str version, opt str stage, opt str field,
//        time stored_at, time fresh_until, time keep_until,
//        opt str secret version, opt time created_at, opt time updated_at, opt time expires_at,
//        str kind, opt str content_type, u32 n + n × (str, str) tags, str value (last)

fn kind_label(kind: SecretKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "static".to_owned())
}

fn str_len(s: &[u8]) -> usize {
    4 + s.len()
}

fn opt_str_len(s: Option<&str>) -> usize {
    1 + s.map_or(0, |s| str_len(s.as_bytes()))
}

const TIME_LEN: usize = 1 + 8 + 4;

fn opt_time_len(t: Option<SystemTime>) -> usize {
    1 + t.map_or(0, |_| TIME_LEN)
}

fn encoded_len(key: &CacheKey, entry: &CacheEntry) -> usize {
    let s = &entry.secret;
    let v = key.variant();
    16 + str_len(key.name().as_str().as_bytes())
        + opt_str_len(v.and_then(|v| v.version.as_deref()))
        + opt_str_len(v.and_then(|v| v.stage.as_deref()))
        + opt_str_len(v.and_then(|v| v.field.as_deref()))
        + 3 * TIME_LEN
        + opt_str_len(s.version.as_deref())
        + opt_time_len(s.created_at)
        + opt_time_len(s.updated_at)
        + opt_time_len(s.expires_at)
        + str_len(kind_label(s.kind).as_bytes())
        + opt_str_len(s.content_type.as_deref())
        + 4
        + s.tags
            .iter()
            .map(|(k, v)| str_len(k.as_bytes()) + str_len(v.as_bytes()))
            .sum::<usize>()
        + str_len(s.value.expose_secret())
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            put_str(out, s.as_bytes());
        }
        None => out.push(0),
    }
}

fn put_time(out: &mut Vec<u8>, t: SystemTime) {
    let (sign, d) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (0, d),
        Err(e) => (1, e.duration()),
    };
    out.push(sign);
    out.extend_from_slice(&d.as_secs().to_be_bytes());
    out.extend_from_slice(&d.subsec_nanos().to_be_bytes());
}

fn put_opt_time(out: &mut Vec<u8>, t: Option<SystemTime>) {
    match t {
        Some(t) => {
            out.push(1);
            put_time(out, t);
        }
        None => out.push(0),
    }
}

fn encode(key: &CacheKey, entry: &CacheEntry, out: &mut Vec<u8>) {
    let v = key.variant();
    out.extend_from_slice(key.scope().as_bytes());
    put_str(out, key.name().as_str().as_bytes());
    put_opt_str(out, v.and_then(|v| v.version.as_deref()));
    put_opt_str(out, v.and_then(|v| v.stage.as_deref()));
    put_opt_str(out, v.and_then(|v| v.field.as_deref()));
    put_time(out, entry.stored_at);
    put_time(out, entry.fresh_until);
    put_time(out, entry.keep_until);
    let s = &entry.secret;
    put_opt_str(out, s.version.as_deref());
    put_opt_time(out, s.created_at);
    put_opt_time(out, s.updated_at);
    put_opt_time(out, s.expires_at);
    put_str(out, kind_label(s.kind).as_bytes());
    put_opt_str(out, s.content_type.as_deref());
    out.extend_from_slice(&(s.tags.len() as u32).to_be_bytes());
    for (k, v) in &s.tags {
        put_str(out, k.as_bytes());
        put_str(out, v.as_bytes());
    }
    put_str(out, s.value.expose_secret());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_be_bytes(b.try_into().unwrap()))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.bytes()?).ok().map(str::to_owned)
    }
    fn opt_string(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => self.string().map(Some),
            _ => None,
        }
    }
    fn time(&mut self) -> Option<SystemTime> {
        let sign = self.u8()?;
        let d = Duration::new(self.u64()?, self.u32()?);
        match sign {
            0 => UNIX_EPOCH.checked_add(d),
            1 => UNIX_EPOCH.checked_sub(d),
            _ => None,
        }
    }
    fn opt_time(&mut self) -> Option<Option<SystemTime>> {
        match self.u8()? {
            0 => Some(None),
            1 => self.time().map(Some),
            _ => None,
        }
    }
}

fn decode(body: &[u8]) -> Option<Opened> {
    let mut r = Reader(body);
    let scope_hex = r
        .take(16)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let scope = CacheScope::from_hex(&scope_hex)?;
    let name = SecretName::new(r.string()?).ok()?;
    let mut opts = ReadOptions::new();
    opts.version = r.opt_string()?;
    opts.stage = r.opt_string()?;
    opts.field = r.opt_string()?;
    let stored_at = r.time()?;
    let fresh_until = r.time()?;
    let keep_until = r.time()?;
    let version = r.opt_string()?;
    let created_at = r.opt_time()?;
    let updated_at = r.opt_time()?;
    let expires_at = r.opt_time()?;
    let mut kind_text = r.string()?;
    let kind: SecretKind =
        serde_json::from_value(serde_json::Value::String(kind_text.clone())).ok()?;
    kind_text.zeroize();
    let content_type = r.opt_string()?;
    let tag_count = r.u32()?;
    let mut secret = Secret::new(SecretValue::from_bytes(Vec::new()));
    for _ in 0..tag_count {
        let k = r.string()?;
        let v = r.string()?;
        secret.tags.insert(k, v);
    }
    let value = r.bytes()?;
    if !r.0.is_empty() {
        return None;
    }
    secret.value = SecretValue::copy_from_slice(value);
    secret.version = version;
    secret.created_at = created_at;
    secret.updated_at = updated_at;
    secret.expires_at = expires_at;
    secret.kind = kind;
    secret.content_type = content_type;
    Some(Opened {
        scope,
        name,
        opts,
        entry: CacheEntry {
            secret,
            stored_at,
            fresh_until,
            keep_until,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_core::Identity;
    use strongroom_core::seal::SealKey;

    fn key() -> CacheKey {
        CacheKey::new(
            CacheScope::of("vault|mount=secret", &Identity::of(&[b"role"])),
            &SecretName::new("db/password").unwrap(),
            &ReadOptions::new().field("user").version("3"),
        )
    }

    fn entry() -> CacheEntry {
        let now = SystemTime::now();
        CacheEntry {
            secret: Secret::new("s3cr3t-value")
                .with_version("7")
                .with_created_at(now - Duration::from_secs(100))
                .with_updated_at(now)
                .with_expires_at(now + Duration::from_secs(3600))
                .with_kind(SecretKind::Dynamic)
                .with_content_type("application/json")
                .with_tag("team", "payments")
                .with_tag("env", "prod"),
            stored_at: now,
            fresh_until: now + Duration::from_secs(60),
            keep_until: now + Duration::from_secs(600),
        }
    }

    #[test]
    fn round_trip_keeps_every_field_and_what_it_belongs_to() {
        let ring = KeyRing::new(SealKey::generate());
        let (k, e) = (key(), entry());
        let sealed = seal(&ring, b"p:k", &k, &e);
        assert!(!sealed.windows(12).any(|w| w == b"s3cr3t-value"));
        assert!(!sealed.windows(11).any(|w| w == b"db/password"));
        let opened = open(&ring, b"p:k", &sealed).unwrap();
        assert!(opened.is_for(&k));
        assert_eq!(opened.entry.secret, e.secret);
        assert_eq!(opened.entry.stored_at, e.stored_at);
        assert_eq!(opened.entry.fresh_until, e.fresh_until);
        assert_eq!(opened.entry.keep_until, e.keep_until);
        assert!(!opened.is_for(&k.plain()));
    }

    #[test]
    fn another_redis_key_tampering_and_other_keys_fail() {
        let ring = KeyRing::new(SealKey::generate());
        let sealed = seal(&ring, b"p:k", &key(), &entry());
        assert_eq!(
            open(&ring, b"p:other", &sealed).unwrap_err(),
            OpenError::Authentication
        );
        for i in [0usize, 1, 5, NONCE_AT + 2, 30, sealed.len() - 1] {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(
                open(&ring, b"p:k", &t).is_err(),
                "flipping byte {i} must not open"
            );
        }
        let other = KeyRing::new(SealKey::generate());
        assert!(open(&other, b"p:k", &sealed).is_err());
        assert_eq!(open(&ring, b"p:k", &[]).unwrap_err(), OpenError::Malformed);
        assert!(open(&ring, b"p:k", &sealed[..10]).is_err());
    }

    #[test]
    fn previous_keys_open_and_fill_ids_differ_per_seal() {
        let old = SealKey::generate();
        let sealed = seal(&KeyRing::new(old.clone()), b"k", &key(), &entry());
        let rotated = KeyRing::new(SealKey::generate()).with_previous(old);
        assert!(open(&rotated, b"k", &sealed).is_ok());
        let again = seal(&rotated, b"k", &key(), &entry());
        assert_ne!(fill_id(&sealed), fill_id(&again));
        assert_eq!(
            fill_id(&sealed).unwrap(),
            sealed[NONCE_AT..NONCE_AT + NONCE_LEN]
        );
    }
}
