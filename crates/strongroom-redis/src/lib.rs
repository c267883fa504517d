//! Redis and Redis Cluster SecretCache for Strongroom: values sealed with AES-256-GCM, key rotation, prefix isolation.
//!
//! (In progress.)
