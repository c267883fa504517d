//! CyberArk Conjur provider for Strongroom: read, write and list Conjur variables with token caching, batch reads and safe policy loading.
//!
//! (In progress.)
