//! The sealed envelope: AES-256-GCM over the whole cache entry, bound to its Redis key.
//!
//! Layout (format 1):
//!
//! ```text
//! [0]       format (1)
//! [1]       key id (first byte of AES-256(key, 0^128), a key check value)
//! [2..10]   fresh_until, Unix milliseconds, big endian (clear text, authenticated)
//! [10..22]  96-bit random nonce
//! [22..n-16] ciphertext of the encoded entry
//! [n-16..n] GCM tag
//! ```
//!
//! Associated data: `"strongroom-redis/1" || header[0..10] || redis key`, so an envelope copied
//! to another key (or another prefix) does not open, and the clear-text header cannot be
//! changed. The plaintext is built in one pre-sized `Zeroizing` buffer and encrypted in place.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aes::Aes256;
use aes_gcm::aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine;
use strongroom_core::{CacheEntry, Error, Result, Secret, SecretKind, SecretValue};
use zeroize::{Zeroize, Zeroizing};

const FORMAT: u8 = 1;
const AAD_LABEL: &[u8] = b"strongroom-redis/1";
pub(crate) const HEADER_LEN: usize = 22;
const TAG_LEN: usize = 16;
/// Byte range of the clear-text `fresh_until` (for `GETRANGE`, inclusive end).
pub(crate) const FRESH_RANGE: (isize, isize) = (2, 9);

/// A 256-bit AES-GCM key for sealing cache entries. Wiped on drop; `Debug` shows only its id.
///
/// ```
/// use strongroom_redis::EncryptionKey;
/// let key = EncryptionKey::generate();
/// let same = EncryptionKey::from_base64(&key.to_base64()).unwrap();
/// assert_eq!(key.id(), same.id());
/// assert!(!format!("{key:?}").contains(&*key.to_base64()));
/// ```
#[derive(Clone)]
pub struct EncryptionKey(Zeroizing<[u8; 32]>);

impl EncryptionKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EncryptionKey(Zeroizing::new(bytes))
    }

    /// A key from base64 text (standard or URL-safe alphabet, padding optional) of 32 bytes.
    /// The error never contains the text.
    pub fn from_base64(text: &str) -> Result<Self> {
        let text = text.trim();
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        for engine in engines {
            if let Ok(bytes) = engine.decode(text) {
                let bytes = Zeroizing::new(bytes);
                if bytes.len() != 32 {
                    return Err(Error::config(
                        "key",
                        format!(
                            "an AES-256 key is 32 bytes; this one decodes to {}",
                            bytes.len()
                        ),
                    ));
                }
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(&bytes);
                return Ok(EncryptionKey(key));
            }
        }
        Err(Error::config(
            "key",
            "not valid base64 (expected 32 bytes, base64-encoded)",
        ))
    }

    /// A fresh random key (from the operating system's CSPRNG via `rand`).
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::fill(&mut key[..]);
        EncryptionKey(key)
    }

    /// The key as standard base64 (what `STRONGROOM_REDIS_KEY` expects).
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&self.0[..]))
    }

    /// The key id written into each envelope: the first byte of AES-256(key, zero block).
    /// Two keys may share an id (1 in 256); opening then tries each of them.
    pub fn id(&self) -> u8 {
        let cipher = Aes256::new_from_slice(&self.0[..]).expect("32-byte key");
        let mut block = aes_gcm::aes::Block::default();
        cipher.encrypt_block(&mut block);
        block[0]
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey(id={:#04x}, [REDACTED])", self.id())
    }
}

impl From<[u8; 32]> for EncryptionKey {
    fn from(bytes: [u8; 32]) -> Self {
        EncryptionKey::from_bytes(bytes)
    }
}

struct Sealer {
    id: u8,
    cipher: Aes256Gcm,
}

/// The current key (seals and opens) and the previous ones (open only).
pub(crate) struct Keyring {
    current: Sealer,
    previous: Vec<Sealer>,
}

/// Why an envelope did not open (logged; never contains key or value material).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Too short or an unknown format byte.
    Malformed,
    /// No configured key has the envelope's key id.
    UnknownKey(u8),
    /// The tag did not verify (wrong key, tampered, or copied from another key).
    Authentication,
    /// Authenticated, but the plaintext did not decode.
    Encoding,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Malformed => f.write_str("not a strongroom envelope"),
            OpenError::UnknownKey(id) => write!(f, "sealed with an unknown key (id {id:#04x})"),
            OpenError::Authentication => f.write_str(
                "did not authenticate (wrong key, tampered, or copied from another key)",
            ),
            OpenError::Encoding => f.write_str("authenticated but undecodable"),
        }
    }
}

impl Keyring {
    pub(crate) fn new(current: &EncryptionKey, previous: &[EncryptionKey]) -> Self {
        let sealer = |k: &EncryptionKey| Sealer {
            id: k.id(),
            cipher: Aes256Gcm::new_from_slice(&k.0[..]).expect("32-byte key"),
        };
        Keyring {
            current: sealer(current),
            previous: previous.iter().map(sealer).collect(),
        }
    }

    /// Number of keys that can open envelopes.
    pub(crate) fn len(&self) -> usize {
        1 + self.previous.len()
    }

    /// Seals `entry` for the Redis key `redis_key`.
    pub(crate) fn seal(&self, redis_key: &[u8], entry: &CacheEntry) -> Result<Vec<u8>> {
        let body_len = encoded_len(entry);
        let mut out = Zeroizing::new(Vec::with_capacity(HEADER_LEN + body_len + TAG_LEN));
        out.push(FORMAT);
        out.push(self.current.id);
        out.extend_from_slice(&unix_millis(entry.fresh_until).to_be_bytes());
        let nonce: [u8; 12] = rand::random();
        out.extend_from_slice(&nonce);
        encode(entry, &mut out);
        debug_assert_eq!(out.len(), HEADER_LEN + body_len);
        let aad = aad(&out[..10], redis_key);
        let (header, body) = out.split_at_mut(HEADER_LEN);
        let tag = self
            .current
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&header[10..22]), &aad, body)
            .map_err(|_| Error::new(strongroom_core::ErrorKind::Cache, "sealing failed"))?;
        out.extend_from_slice(&tag);
        // `out` now holds only ciphertext; hand it out without wiping.
        Ok(std::mem::take(&mut *out))
    }

    /// Opens an envelope read from `redis_key`. Takes ownership so the plaintext is decrypted
    /// in place and wiped afterwards.
    pub(crate) fn open(
        &self,
        redis_key: &[u8],
        envelope: Vec<u8>,
    ) -> Result<CacheEntry, OpenError> {
        let mut buf = Zeroizing::new(envelope);
        if buf.len() < HEADER_LEN + TAG_LEN || buf[0] != FORMAT {
            return Err(OpenError::Malformed);
        }
        let id = buf[1];
        let aad = aad(&buf[..10], redis_key);
        let split = buf.len() - TAG_LEN;
        let tag = *Tag::from_slice(&buf[split..]);
        let nonce = *Nonce::from_slice(&buf[10..22]);
        let candidates = std::iter::once(&self.current)
            .chain(&self.previous)
            .filter(|s| s.id == id);
        let mut tried = false;
        for sealer in candidates {
            tried = true;
            let body = &mut buf[HEADER_LEN..split];
            // A failed decrypt leaves the ciphertext untouched, so the next key can try.
            if sealer
                .cipher
                .decrypt_in_place_detached(&nonce, &aad, body, &tag)
                .is_ok()
            {
                return decode(&buf[HEADER_LEN..split]).ok_or(OpenError::Encoding);
            }
        }
        Err(if tried {
            OpenError::Authentication
        } else {
            OpenError::UnknownKey(id)
        })
    }
}

fn aad(header: &[u8], redis_key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + header.len() + redis_key.len());
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(header);
    aad.extend_from_slice(redis_key);
    aad
}

/// Reads the clear-text `fresh_until` from the 8 bytes `GETRANGE key 2 9` returns.
pub(crate) fn fresh_until_from_range(bytes: &[u8]) -> Option<SystemTime> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    Some(UNIX_EPOCH + Duration::from_millis(u64::from_be_bytes(arr)))
}

fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

// ---- plaintext encoding -------------------------------------------------------------------
//
// str  = u32 BE length + bytes
// opt  = 0 | 1 + item
// time = 0 (after epoch) | 1 (before) + u64 secs + u32 nanos
// body = opt str version, opt time created_at, opt time updated_at, opt time expires_at,
//        str kind, opt str content_type, time fresh_until, u32 n + n × (str, str) tags,
//        str value (last)

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

fn encoded_len(entry: &CacheEntry) -> usize {
    let s = &entry.secret;
    opt_str_len(s.version.as_deref())
        + opt_time_len(s.created_at)
        + opt_time_len(s.updated_at)
        + opt_time_len(s.expires_at)
        + str_len(kind_label(s.kind).as_bytes())
        + opt_str_len(s.content_type.as_deref())
        + TIME_LEN
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

fn encode(entry: &CacheEntry, out: &mut Vec<u8>) {
    let s = &entry.secret;
    put_opt_str(out, s.version.as_deref());
    put_opt_time(out, s.created_at);
    put_opt_time(out, s.updated_at);
    put_opt_time(out, s.expires_at);
    put_str(out, kind_label(s.kind).as_bytes());
    put_opt_str(out, s.content_type.as_deref());
    put_time(out, entry.fresh_until);
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

fn decode(body: &[u8]) -> Option<CacheEntry> {
    let mut r = Reader(body);
    let version = r.opt_string()?;
    let created_at = r.opt_time()?;
    let updated_at = r.opt_time()?;
    let expires_at = r.opt_time()?;
    let mut kind_text = r.string()?;
    let kind: SecretKind =
        serde_json::from_value(serde_json::Value::String(kind_text.clone())).ok()?;
    kind_text.zeroize();
    let content_type = r.opt_string()?;
    let fresh_until = r.time()?;
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
    Some(CacheEntry {
        secret,
        fresh_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            fresh_until: now + Duration::from_secs(60),
        }
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let key = EncryptionKey::generate();
        let ring = Keyring::new(&key, &[]);
        let e = entry();
        let sealed = ring.seal(b"p:k", &e).unwrap();
        assert!(!sealed.windows(12).any(|w| w == b"s3cr3t-value"));
        let opened = ring.open(b"p:k", sealed).unwrap();
        assert_eq!(opened.secret, e.secret);
        assert_eq!(opened.fresh_until, e.fresh_until);
    }

    #[test]
    fn other_key_tamper_and_wrong_key_fail() {
        let key = EncryptionKey::generate();
        let ring = Keyring::new(&key, &[]);
        let sealed = ring.seal(b"p:k", &entry()).unwrap();
        assert_eq!(
            ring.open(b"p:other", sealed.clone()).unwrap_err(),
            OpenError::Authentication
        );
        for i in [1usize, 3, 12, HEADER_LEN + 2, sealed.len() - 1] {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(
                ring.open(b"p:k", t).is_err(),
                "flipping byte {i} must not open"
            );
        }
        let other = Keyring::new(&EncryptionKey::generate(), &[]);
        assert!(other.open(b"p:k", sealed.clone()).is_err());
        assert_eq!(
            ring.open(b"p:k", sealed[..10].to_vec()).unwrap_err(),
            OpenError::Malformed
        );
    }

    #[test]
    fn previous_keys_open() {
        let old = EncryptionKey::generate();
        let new = EncryptionKey::generate();
        let sealed = Keyring::new(&old, &[]).seal(b"k", &entry()).unwrap();
        let rotated = Keyring::new(&new, std::slice::from_ref(&old));
        assert!(rotated.open(b"k", sealed).is_ok());
    }

    #[test]
    fn base64_keys() {
        assert!(EncryptionKey::from_base64("not base64 !!").is_err());
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        let err = EncryptionKey::from_base64(&short).unwrap_err();
        assert!(!err.to_string().contains(&short));
        let k = EncryptionKey::generate();
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&k.0[..]);
        assert_eq!(EncryptionKey::from_base64(&url).unwrap().id(), k.id());
    }

    #[test]
    fn fresh_until_is_readable_without_the_key() {
        let key = EncryptionKey::generate();
        let e = entry();
        let sealed = Keyring::new(&key, &[]).seal(b"k", &e).unwrap();
        let got = fresh_until_from_range(&sealed[2..10]).unwrap();
        let want = e
            .fresh_until
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert_eq!(got.duration_since(UNIX_EPOCH).unwrap().as_millis(), want);
    }
}
