//! Built-in stores: in memory, environment variables, a local JSON file.

mod env;
mod file;
mod memory;

pub use env::EnvStore;
pub use file::FileStore;
pub use memory::MemoryStore;
