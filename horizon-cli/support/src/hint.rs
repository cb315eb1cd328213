//! Hints as command lines: horizon-core says what would fix a failure ([`Hint`], data naming an
//! action); this renders it as the command a user types.

use horizon_core::Hint;

/// How to get a service running, for every "no Podman service" failure.
pub const NO_SERVICE: &str = "start the service: `systemctl --user enable --now podman.socket` (rootless), \
     `systemctl enable --now podman.socket` (root), or `podman system service --time=0 &`";
/// The same when Podman itself is missing.
pub const PODMAN_MISSING: &str = "install Podman (`sudo apt-get install podman` on Debian, `sudo dnf install podman` on Fedora), \
     then run the command again";

/// The command that keeps `uid`'s Podman service running (socket activation): what a service
/// horizon started for one command stands in for.
pub fn enable_socket_command(uid: u32) -> &'static str {
    if uid == 0 {
        "systemctl enable --now podman.socket"
    } else {
        "systemctl --user enable --now podman.socket"
    }
}

/// The line a user reads after `hint: `.
pub fn render(hint: &Hint) -> String {
    match hint {
        Hint::Install { name } => format!("install it: `horizon-container install {name}`"),
        Hint::AddPackageAndReinstall { name, binary } => format!(
            "add the package that provides {binary} to the packages of {name}'s definition and \
             `horizon-container install {name} --reinstall`; --force exports it anyway"
        ),
        Hint::ValidateThenInstall { path, name } => format!(
            "its definition {path} is invalid: `horizon-container definition validate {path}` \
             says why; then `horizon-container install {name}`",
            path = path.display()
        ),
        Hint::FixOrRemoveCustomisation {
            path,
            name,
            in_force,
        } => format!(
            "fix {path} (`horizon-container definition validate {path}` says why), or remove it \
             to use the {in_force} definition of {name} as it is",
            path = path.display()
        ),
        Hint::NoDefinitionThenInstall { name } => format!(
            "there is no definition named {name} either: `horizon-container list` shows them, \
             then `horizon-container install {name}`"
        ),
        Hint::ListDefinitions { known } => format!(
            "known definitions: {} (`horizon-container list` shows them)",
            known.join(", ")
        ),
        Hint::Reinstall { name } => {
            format!("`horizon-container install {name} --reinstall` rebuilds its container")
        }
        Hint::ListInstalled => "`horizon-container list` shows what is installed".to_owned(),
        Hint::StartService => NO_SERVICE.to_owned(),
        Hint::InstallPodman => PODMAN_MISSING.to_owned(),
        Hint::WaitForLock { can_queue: true } => {
            "wait for it to finish, or pass --wait to queue behind it".to_owned()
        }
        Hint::WaitForLock { .. } => "wait for it to finish, then run the command again".to_owned(),
        Hint::UpdateAgain => {
            "the running container is untouched; fix the cause and run the update again".to_owned()
        }
        Hint::ForceExport {
            name,
            moves_aside: true,
        } => format!(
            "--force moves it aside to {name}{} and exports; or choose another name with --as",
            horizon_core::export::BACKUP_SUFFIX
        ),
        Hint::ForceExport { .. } => {
            "--force exports it anyway; or choose another name with --as".to_owned()
        }
        Hint::ExportFrom {
            binary,
            container: Some(container),
        } => format!("say which: `horizon-container export {binary} --from {container}`"),
        Hint::ExportFrom { binary, .. } => format!(
            "name the container: `horizon-container export {binary} --from NAME` \
             (`horizon-container list` shows the definitions)"
        ),
        Hint::ListExports => "`horizon-container exports` lists the exported binaries".to_owned(),
        Hint::InstallExecClient => {
            "install horizon-exec in the same directory as horizon-container".to_owned()
        }
        Hint::Utf8Arguments => "pass only UTF-8 arguments to this container".to_owned(),
        Hint::SystemHistory => {
            "horizon-update --history lists the recorded system generations".to_owned()
        }
        Hint::KnownToolchains { known } => format!(
            "known toolchains: {} (`horizon-dev setup --list` shows what each installs)",
            known.join(", ")
        ),
        Hint::Repair { name } => format!(
            "`horizon-container repair {name}` rebuilds it from the container and its generation \
             history (or `horizon-container remove {name}` removes the container)"
        ),
        _ => "see `horizon-container --help`".to_owned(),
    }
}
