//! Names of the Podman objects horizon creates. Names are for people (`podman logs
//! horizonos-development`, as the spec shows); horizon itself finds its objects by label.

/// Prefix of a managed container's name: definition `development` runs as `horizonos-development`.
pub const CONTAINER_PREFIX: &str = "horizonos-";
/// Repository of generation images: `localhost/horizonos/NAME:GENERATION`.
pub const GENERATION_REPOSITORY_PREFIX: &str = "localhost/horizonos/";

/// The managed container of a definition.
pub fn container_name(definition: &str) -> String {
    format!("{CONTAINER_PREFIX}{definition}")
}

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
