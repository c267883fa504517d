//! Sealing values at rest: AES-256-GCM with keys derived by HKDF, used by the Redis cache and
//! the local file store.
//!
//! From the configured 256-bit key, HKDF-SHA256 derives separate material for separate
//! purposes — the encryption key, the key id written next to each envelope, and the key of
//! [`SealKey::digest`] (keyed digests of names, so storage reveals no names) — so no bit of
//! the encryption key or of GCM's hash subkey is ever published.
//!
//! An envelope is `key id (8) || nonce (12) || ciphertext || tag (16)`. The caller's
//! associated data binds it to where it is stored (a Redis key, a secret name in a file), so a
//! copy moved elsewhere does not open.

use std::fmt;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::KeyInit;
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine;
use hmac::{KeyInit as _, Mac};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, ErrorKind, Result};

/// Bytes of the key id at the start of an envelope.
pub const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = KEY_ID_LEN + NONCE_LEN + TAG_LEN;

/// A 256-bit key for sealing. Wiped on drop; `Debug` shows only its id.
///
/// ```
/// use strongroom_core::seal::SealKey;
/// let key = SealKey::generate();
/// let same = SealKey::from_base64(&key.to_base64()).unwrap();
/// assert_eq!(key.id(), same.id());
/// let sealed = key.seal(b"where it lives", b"hunter2");
/// assert_eq!(&*key.open(b"where it lives", &sealed).unwrap(), b"hunter2");
/// assert!(key.open(b"somewhere else", &sealed).is_err());
/// assert!(!format!("{key:?}").contains(&*key.to_base64()));
/// ```
#[derive(Clone)]
pub struct SealKey {
    root: Zeroizing<[u8; 32]>,
    cipher: Aes256Gcm,
    id: [u8; KEY_ID_LEN],
    digest_key: Zeroizing<[u8; 32]>,
}

impl SealKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> SealKey {
        let root = Zeroizing::new(bytes);
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"strongroom seal v2"), &root[..]);
        let mut enc = Zeroizing::new([0u8; 32]);
        let mut id = [0u8; KEY_ID_LEN];
        let mut digest_key = Zeroizing::new([0u8; 32]);
        // Expanding at most 255 blocks cannot fail; these are one block each.
        hk.expand(b"encryption", &mut enc[..]).expect("HKDF length");
        hk.expand(b"key id", &mut id).expect("HKDF length");
        hk.expand(b"digest", &mut digest_key[..])
            .expect("HKDF length");
        let cipher = Aes256Gcm::new_from_slice(&enc[..]).expect("32-byte key");
        SealKey {
            root,
            cipher,
            id,
            digest_key,
        }
    }

    /// A key from base64 text (standard or URL-safe alphabet, padding optional) of 32 bytes.
    /// The error never contains the text.
    pub fn from_base64(text: &str) -> Result<SealKey> {
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
                let mut key = [0u8; 32];
                key.copy_from_slice(&bytes);
                let out = SealKey::from_bytes(key);
                key.zeroize();
                return Ok(out);
            }
        }
        Err(Error::config(
            "key",
            "not valid base64 (expected 32 bytes, base64-encoded)",
        ))
    }

    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate() -> SealKey {
        let mut key = [0u8; 32];
        rand::fill(&mut key[..]);
        let out = SealKey::from_bytes(key);
        key.zeroize();
        out
    }

    /// The key as standard base64.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&self.root[..]))
    }

    /// The key id written at the start of each envelope (derived, reveals nothing of the key).
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        self.id
    }

    /// Seals `plaintext`, bound to `aad` (where it is stored).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        out.extend_from_slice(&self.id);
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce[..]);
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut out[start..])
            .expect("AES-GCM encrypts any length this process can hold");
        out.extend_from_slice(&tag);
        out
    }

    /// Opens an envelope made by [`SealKey::seal`] with the same `aad`. Fails (without saying
    /// more) for another key, another `aad`, or any change to the envelope.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let bad = || {
            Error::new(
                ErrorKind::Protocol,
                "the sealed value does not open with this key",
            )
        };
        if sealed.len() < OVERHEAD || sealed[..KEY_ID_LEN] != self.id {
            return Err(bad());
        }
        let nonce = &sealed[KEY_ID_LEN..KEY_ID_LEN + NONCE_LEN];
        let body = &sealed[KEY_ID_LEN + NONCE_LEN..sealed.len() - TAG_LEN];
        let tag = Tag::from_slice(&sealed[sealed.len() - TAG_LEN..]);
        let mut plain = Zeroizing::new(body.to_vec());
        self.cipher
            .decrypt_in_place_detached(Nonce::from_slice(nonce), aad, &mut plain, tag)
            .map_err(|_| bad())?;
        Ok(plain)
    }

    /// A keyed digest (HMAC-SHA256 under a key derived for this purpose) of `data`, labelled
    /// by `purpose`: the same input gives the same digest in every process sharing the key,
    /// and nobody without the key can tell which input it was.
    pub fn digest(&self, purpose: &[u8], data: &[u8]) -> [u8; 32] {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.digest_key[..])
            .expect("HMAC takes any key length");
        mac.update(&(purpose.len() as u64).to_be_bytes());
        mac.update(purpose);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey(id=")?;
        for b in self.id {
            write!(f, "{b:02x}")?;
        }
        write!(f, ", [REDACTED])")
    }
}

/// The current key and the previous ones (key rotation): seals with the current key, opens
/// with whichever key's id the envelope names.
///
/// ```
/// use strongroom_core::seal::{KeyRing, SealKey};
/// let old = SealKey::generate();
/// let sealed = old.seal(b"k", b"v");
/// let ring = KeyRing::new(SealKey::generate()).with_previous(old);
/// assert_eq!(&*ring.open(b"k", &sealed).unwrap(), b"v");
/// ```
#[derive(Clone, Debug)]
pub struct KeyRing {
    current: SealKey,
    previous: Vec<SealKey>,
}

impl KeyRing {
    /// A ring with one key.
    pub fn new(current: SealKey) -> KeyRing {
        KeyRing {
            current,
            previous: Vec::new(),
        }
    }

    /// Adds a previous key, still accepted when opening.
    pub fn with_previous(mut self, key: SealKey) -> KeyRing {
        self.previous.push(key);
        self
    }

    /// The key new envelopes are sealed with.
    pub fn current(&self) -> &SealKey {
        &self.current
    }

    /// Every key of the ring, the current one first.
    pub fn keys(&self) -> impl Iterator<Item = &SealKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// Seals with the current key.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        self.current.seal(aad, plaintext)
    }

    /// Opens with the key the envelope names.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let id = sealed.get(..KEY_ID_LEN);
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| Some(&k.id[..]) == id)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Protocol,
                    "the sealed value was made with a key this process does not have",
                )
            })?
            .open(aad, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_and_wrong_keys_fail() {
        let key = SealKey::generate();
        let mut sealed = key.seal(b"aad", b"secret");
        assert_eq!(sealed.len(), 6 + OVERHEAD);
        assert!(SealKey::generate().open(b"aad", &sealed).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.open(b"aad", &sealed).is_err());
        assert!(key.open(b"aad", &sealed[..10]).is_err());
    }

    #[test]
    fn derived_material_is_separate() {
        let key = SealKey::from_bytes([7; 32]);
        let again = SealKey::from_bytes([7; 32]);
        assert_eq!(key.id(), again.id());
        assert_eq!(key.digest(b"name", b"x"), again.digest(b"name", b"x"));
        assert_ne!(key.digest(b"name", b"x"), key.digest(b"other", b"x"));
        // The id is not the start of GCM's hash subkey H = AES(k_enc, 0^128), nor of the key.
        assert_ne!(&key.id()[..], &[7u8; 8][..]);
    }
}
