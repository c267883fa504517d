//! HashiCorp Vault / OpenBao KV v2 provider for Strongroom: token, AppRole and TLS-certificate auth, namespaces, CAS, soft and hard delete.
//!
//! (In progress.)
