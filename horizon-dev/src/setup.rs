//! `horizon-dev setup TOOLCHAIN`, `setup --remove TOOLCHAIN`, `setup --list`: one horizon-core
//! call each (`Horizon::setup_toolchain`, with `remove` for `--remove`; `toolchains`) in the shared
//! [`Session`], its progress on stderr through the session's observer, its report rendered by the
//! pure functions below or as `--json` in the shared envelope, its failure mapped by the shared
//! exit table.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use horizon_cli_support::exit::Failure;
use horizon_cli_support::output::print_report;
use horizon_cli_support::session::Session;
use horizon_core::export::ExportError;
use horizon_core::printable::escape_lines;
use horizon_core::update::UpdateOutcome;
use horizon_core::{SetupOptions, SetupReport, ToolchainChange, ToolchainList};

use crate::BINARY;

/// `setup`'s arguments.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["toolchain", "list", "remove"])))]
pub struct SetupArgs {
    /// The toolchain to set up: rust, python, node, go, c or java.
    #[arg(value_name = "TOOLCHAIN")]
    pub toolchain: Option<String>,
    /// List every toolchain, what it installs on this container's image, and which are installed.
    #[arg(long, conflicts_with_all = ["toolchain", "remove"])]
    pub list: bool,
    /// Remove a toolchain set up before (what lower definition layers list stays).
    #[arg(long, value_name = "TOOLCHAIN", conflicts_with = "toolchain")]
    pub remove: Option<String>,
    /// Export the toolchain's binaries even where they shadow a host command of the same name.
    #[arg(long)]
    pub force_exports: bool,
    /// Queue behind another horizon process working on the container instead of failing.
    #[arg(long)]
    pub wait: bool,
}

/// Runs `setup` for `container`.
pub async fn run(session: &Session, container: &str, args: SetupArgs) -> Result<ExitCode, Failure> {
    let cancel = horizon_cli_support::session::cancel_on_signals()?;
    let call = session.call_with(&cancel);
    if args.list {
        let list = session.horizon.toolchains(call, container).await;
        session.observer.finish();
        let list = list?;
        print_report(session.json, &list, |out| render_list(out, &list))?;
        return Ok(ExitCode::SUCCESS);
    }
    let (toolchain, remove) = match (args.toolchain, args.remove) {
        (_, Some(toolchain)) => (toolchain, true),
        (Some(toolchain), None) => (toolchain, false),
        // clap requires one of them.
        (None, None) => return Ok(ExitCode::from(horizon_cli_support::exit::INVALID_INPUT)),
    };
    let options = SetupOptions {
        wait: args.wait,
        keep_previous: None,
        force_exports: args.force_exports,
        remove,
    };
    let report = session
        .horizon
        .setup_toolchain(call, container, &toolchain, &options)
        .await;
    session.observer.finish();
    let report = report?;
    // A warning that cannot be shown must not fail the setup (the JSON has it).
    let _ = render_refused(&mut std::io::stderr().lock(), &report);
    print_report(session.json, &report, |out| render_setup(out, &report))?;
    Ok(ExitCode::SUCCESS)
}

/// What a setup or removal did, in a few lines.
fn render_setup(out: &mut impl Write, report: &SetupReport) -> std::io::Result<()> {
    let recipe = &report.recipe;
    let container = &report.container;
    let toolchain = recipe.toolchain;
    let packages = recipe.packages.join(" ");
    match report.change {
        ToolchainChange::Installed => writeln!(
            out,
            "set up {toolchain} in {container} ({}): {packages}",
            recipe.family
        )?,
        ToolchainChange::AlreadyInstalled => writeln!(
            out,
            "{toolchain} is already set up in {container} ({}): {packages}",
            recipe.family
        )?,
        ToolchainChange::Removed => writeln!(out, "removed {toolchain} from {container}")?,
        ToolchainChange::NotInstalled => {
            return writeln!(
                out,
                "{toolchain} is not set up in {container}: nothing to remove"
            );
        }
        _ => {}
    }
    if let Some(UpdateOutcome::Updated { from, to, .. }) = &report.update {
        writeln!(
            out,
            "generation {} runs; generation {} is kept (`horizon-container rollback {container}` returns to it)",
            to.generation, from.generation
        )?;
        writeln!(out, "recorded in {}", report.definition.display())?;
    }
    if let Some(exports) = &report.exports {
        let names: Vec<&str> = exports
            .exported
            .iter()
            .map(|outcome| outcome.entry.name.as_str())
            .collect();
        if !names.is_empty() {
            writeln!(out, "exported: {}", names.join(" "))?;
        }
    }
    if !report.unexported.is_empty() {
        let names: Vec<&str> = report
            .unexported
            .iter()
            .map(|outcome| outcome.entry.name.as_str())
            .collect();
        writeln!(out, "unexported: {}", names.join(" "))?;
    }
    Ok(())
}

/// The binaries that could not be exported, one warning each, and how to export them anyway.
fn render_refused(out: &mut impl Write, report: &SetupReport) -> std::io::Result<()> {
    let mut collided = false;
    for refused in report.exports.iter().flat_map(|exports| &exports.refused) {
        writeln!(
            out,
            "{BINARY}: warning: {} was not exported: {}",
            refused.binary,
            escape_lines(&refused.error.to_string())
        )?;
        collided |= matches!(refused.error, ExportError::Collision { .. });
    }
    if collided {
        writeln!(
            out,
            "hint: `{BINARY} --container {} setup {} --force-exports` exports them anyway",
            report.container, report.recipe.toolchain
        )?;
    }
    Ok(())
}

/// One line per toolchain: its name, whether it is set up, what it installs on this family.
fn render_list(out: &mut impl Write, list: &ToolchainList) -> std::io::Result<()> {
    writeln!(out, "toolchains of {} ({}):", list.container, list.family)?;
    for listed in &list.toolchains {
        let state = if listed.installed {
            "installed"
        } else {
            "not installed"
        };
        writeln!(
            out,
            "  {:<7} {state:<14} {}",
            listed.recipe.toolchain.name(),
            listed.recipe.packages.join(" ")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use horizon_core::toolchain::recipe;
    use horizon_core::usecase::ListedToolchain;
    use horizon_core::{Family, Toolchain};

    #[test]
    fn the_list_names_every_toolchain_its_state_and_its_packages() {
        let list = ToolchainList {
            container: "dev".into(),
            family: Family::Debian,
            toolchains: Toolchain::ALL
                .into_iter()
                .map(|toolchain| ListedToolchain {
                    recipe: recipe(toolchain, Family::Debian),
                    installed: toolchain == Toolchain::Python,
                })
                .collect(),
        };
        let mut out = Vec::new();
        render_list(&mut out, &list).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "toolchains of dev (debian):\n  \
             rust    not installed  cargo\n  \
             python  installed      python3 python3-pip python3-venv\n  \
             node    not installed  nodejs npm\n  \
             go      not installed  golang-go\n  \
             c       not installed  gcc clang make cmake libc6-dev\n  \
             java    not installed  default-jdk-headless\n"
        );
    }

    #[test]
    fn nothing_done_is_one_line() {
        let report = SetupReport {
            container: "dev".into(),
            recipe: recipe(Toolchain::Rust, Family::Arch),
            change: ToolchainChange::AlreadyInstalled,
            definition: "/home/me/.config/horizonos/containers/dev.json".into(),
            update: None,
            exports: None,
            unexported: Vec::new(),
        };
        let mut out = Vec::new();
        render_setup(&mut out, &report).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "rust is already set up in dev (arch): rust\n"
        );
    }
}
