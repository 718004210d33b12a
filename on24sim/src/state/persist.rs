//! Optional persistence (`--state FILE`): the world is written as one JSON snapshot (to a
//! temporary file, then renamed, so a crash never leaves half a file) and read back at start.

use std::path::Path;

use super::Store;

impl Store {
    /// Reads a snapshot written by [`Store::save`].
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let mut store: Self = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        store.by_email = store
            .registrants
            .values()
            .map(|r| (Self::key(r.event_id, &r.email), r.eventuserid))
            .collect();
        Ok(store)
    }

    /// Writes a snapshot atomically.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)
    }
}
