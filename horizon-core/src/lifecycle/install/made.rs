//! What an install (or an update) has made so far, noted as each object is made, so that a
//! failure at any step removes exactly that and nothing that was there before.

use crate::engine::Engine;
use crate::lifecycle::create::remove_if_present;

/// What an install (or an update) has made so far, undone in reverse on failure.
#[derive(Debug, Default)]
pub(crate) struct Made {
    /// An image this install pulled that was not there before (its id).
    pub pulled_image: Option<String>,
    /// The build container's name.
    pub build_container: Option<String>,
    /// The generation image's id.
    pub generation_image: Option<String>,
    /// The new managed container's name.
    pub container: Option<String>,
}

impl Made {
    /// Removes everything recorded, newest first; returns what could not be removed, with why.
    pub(crate) async fn undo<E: Engine>(self, engine: &E) -> Vec<String> {
        let mut failures = Vec::new();
        if let Some(container) = &self.container {
            failures.extend(remove_if_present(engine, container).await);
        }
        if let Some(container) = &self.build_container {
            failures.extend(remove_if_present(engine, container).await);
        }
        for image in [&self.generation_image, &self.pulled_image]
            .into_iter()
            .flatten()
        {
            match engine.remove_image(image, false).await {
                Ok(()) => {}
                Err(error) if error.is_not_found() => {}
                Err(error) => failures.push(format!("image {image}: {error}")),
            }
        }
        failures
    }
}
