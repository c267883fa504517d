//! Launcher for openbao (being written).
