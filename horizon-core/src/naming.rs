//! Names of the Podman objects horizon creates. Names are for people (`podman logs
//! horizonos-development`, as the spec shows); horizon itself finds its objects by label.

// The container's name is the agent protocol's: its client names the container in what it prints
// and links no horizon-core.
pub use horizon_agent_protocol::naming::{CONTAINER_PREFIX, container_name};

/// Repository of generation images: `localhost/horizonos/NAME:GENERATION`.
pub const GENERATION_REPOSITORY_PREFIX: &str = "localhost/horizonos/";

/// The repository (without tag) of a definition's generation images.
pub fn generation_repository(definition: &str) -> String {
    format!("{GENERATION_REPOSITORY_PREFIX}{definition}")
}

/// The full reference of one generation image.
pub fn generation_image(definition: &str, generation: u64) -> String {
    format!("{}:{generation}", generation_repository(definition))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(container_name("development"), "horizonos-development");
        assert_eq!(
            generation_image("development", 3),
            "localhost/horizonos/development:3"
        );
    }
}
