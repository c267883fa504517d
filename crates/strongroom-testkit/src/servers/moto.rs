//! Launcher for moto (being written).
