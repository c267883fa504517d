//! Launcher for redis (being written).
