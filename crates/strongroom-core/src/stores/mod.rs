//! Built-in stores: in memory, environment variables, a local JSON file.

mod env;
mod file;
mod memory;

pub use env::EnvStore;
pub use file::{FILE_KEY_ENV, FileStore, load_or_create_key_file, user_config_dir};
pub use memory::MemoryStore;
