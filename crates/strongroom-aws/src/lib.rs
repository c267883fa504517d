//! AWS Secrets Manager provider for Strongroom on the official AWS SDK: batch reads, JSON fields, restore-on-recreate, recovery windows.
//!
//! (In progress.)
