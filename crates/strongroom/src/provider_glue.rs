//! Per-provider construction from settings (each behind its feature).
