//! `completions SHELL` and `manpage [--dir DIR]`, generated from a binary's clap definition so they
//! never drift from the real command line. Every binary has these two commands.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use clap_complete::Shell;

/// The documentation subcommands every binary has.
#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Print a shell completion script.
    ///
    /// Example (bash): horizon-container completions bash > ~/.local/share/bash-completion/completions/horizon-container
    Completions {
        /// The shell: bash, zsh, fish (also elvish, powershell).
        #[arg(value_name = "SHELL")]
        shell: Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    ///
    /// Example: horizon-container manpage | man -l -
    Manpage(ManpageArgs),
}

/// `manpage`'s options.
#[derive(Debug, Args)]
pub struct ManpageArgs {
    /// Write NAME.1 and NAME-COMMAND.1 for every command into DIR (created if missing) and print
    /// their paths, instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs a documentation command for the binary described by `command`, writing to `out`.
pub fn run(
    command: clap::Command,
    docs: &DocsCommand,
    out: &mut impl Write,
) -> std::io::Result<()> {
    match docs {
        DocsCommand::Completions { shell } => write_completions(command, *shell, out),
        DocsCommand::Manpage(ManpageArgs { dir: None }) => write_manpage(command, out),
        DocsCommand::Manpage(ManpageArgs { dir: Some(dir) }) => {
            for page in write_manpages(command, dir)? {
                writeln!(out, "{}", page.display())?;
            }
            Ok(())
        }
    }
}

/// The completion script of `command` for `shell`.
pub fn write_completions(
    mut command: clap::Command,
    shell: Shell,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let name = command.get_name().to_owned();
    // clap_complete writes through `&mut dyn Write` and cannot report an error: collect, then
    // write, so a closed pipe is reported like any other output error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    out.write_all(&script)
}

/// The main man page of `command` (its synopsis, options and command list).
pub fn write_manpage(command: clap::Command, out: &mut impl Write) -> std::io::Result<()> {
    clap_mangen::Man::new(command).render(out)
}

/// Writes a page for `command` and each of its subcommands into `dir`; returns their paths, sorted.
pub fn write_manpages(command: clap::Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(command, dir)?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "1"))
        .collect();
    pages.sort();
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// A stand-in binary with two commands.
    #[derive(Debug, Parser)]
    #[command(name = "demo-tool", version)]
    struct Demo {
        #[command(subcommand)]
        command: DemoCommand,
    }

    #[derive(Debug, clap::Subcommand)]
    enum DemoCommand {
        /// Frobnicate things.
        Frobnicate,
        #[command(flatten)]
        Docs(DocsCommand),
    }

    fn text(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
        let mut out = Vec::new();
        write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn completions_name_the_binary_and_its_commands_in_every_shell() {
        for (shell, marker) in [
            (Shell::Bash, "-o default demo-tool"),
            (Shell::Zsh, "#compdef demo-tool"),
            (Shell::Fish, "complete -c demo-tool"),
        ] {
            let script = text(|out| write_completions(Demo::command(), shell, out));
            assert!(script.contains(marker), "{shell}: {script}");
            for command in ["frobnicate", "completions", "manpage"] {
                assert!(script.contains(command), "{shell} lacks {command}");
            }
        }
    }

    #[test]
    fn the_man_page_lists_the_commands() {
        let page = text(|out| write_manpage(Demo::command(), out));
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
        assert!(page.contains(".TH demo-tool 1"), "{page}");
        for command in ["frobnicate", "completions", "manpage"] {
            assert!(
                page.contains(&format!("demo\\-tool\\-{command}(1)")),
                "{page}"
            );
        }
    }

    #[test]
    fn manpages_go_one_per_command_into_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("man");
        let pages = write_manpages(Demo::command(), &target).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|page| page.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "demo-tool-completions.1",
                "demo-tool-frobnicate.1",
                "demo-tool-manpage.1",
                "demo-tool.1"
            ]
        );
        let listed = text(|out| {
            run(
                Demo::command(),
                &DocsCommand::Manpage(ManpageArgs {
                    dir: Some(target.clone()),
                }),
                out,
            )
        });
        assert_eq!(
            listed,
            pages
                .iter()
                .map(|page| format!("{}\n", page.display()))
                .collect::<String>()
        );
    }
}
