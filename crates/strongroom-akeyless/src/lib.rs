//! Akeyless provider for Strongroom: static, dynamic and rotated secrets with access-key, JWT, SAML and AWS IAM auth.
//!
//! (In progress.)
