//! The local operator's way in (feature `operator`): the CLI's commands and the demo run on the
//! machine that holds the database and the keyring, and some of them (migrations, key rotation,
//! seeding the demo) work on the store itself. Tests use it (feature `test-support`) to arrange
//! and inspect state. The HTTP crate never enables it: `cargo check -p confide-server` builds the
//! application layer without it, so a handler that reached for the store would not compile.

pub use confide_store as store;

impl crate::App {
    /// The store, for the local operator's commands and for tests.
    pub fn operator_store(&self) -> &confide_store::Store {
        &self.store
    }
}
