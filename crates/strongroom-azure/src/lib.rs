//! Azure Key Vault secrets provider for Strongroom on the official Azure SDK crates, with a documented name mapping.
//!
//! (In progress.)
