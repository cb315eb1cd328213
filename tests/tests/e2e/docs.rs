//! Shell completions and man pages of the three binaries, through the binaries themselves: each
//! generates a non-empty bash, zsh and fish script and a man page naming every command its `--help`
//! lists, and `manpage --dir` writes one page per command.

use std::process::Command;

use horizon_e2e::bins::cargo_bin;

/// (package, binary) of every horizon binary.
const BINARIES: [(&str, &str); 3] = [
    ("horizon-cli", "horizon-container"),
    ("horizon-dev", "horizon-dev"),
    ("horizon-update", "horizon-update"),
];

fn run(binary: &str, package: &str, args: &[&str]) -> String {
    let output = Command::new(cargo_bin(package, binary))
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{binary} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "",
        "{binary} {args:?}"
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The commands `BINARY --help` lists (its "Commands:" section), without `help`.
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        // A command's line is indented by two; its wrapped description by more.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|command| *command != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_binary_completes_its_real_commands_in_bash_zsh_and_fish() {
    for (package, binary) in BINARIES {
        let commands = listed_commands(&run(binary, package, &["--help"]));
        assert!(
            commands.contains(&"completions".to_owned())
                && commands.contains(&"manpage".to_owned()),
            "{binary}: {commands:?}"
        );
        for shell in ["bash", "zsh", "fish"] {
            let script = run(binary, package, &["completions", shell]);
            assert!(script.contains(binary), "{binary} {shell}");
            for command in &commands {
                assert!(
                    script.contains(command.as_str()),
                    "{binary} {shell} completion lacks {command}"
                );
            }
        }
    }
}

#[test]
fn every_binary_has_a_man_page_naming_its_real_commands() {
    for (package, binary) in BINARIES {
        let commands = listed_commands(&run(binary, package, &["--help"]));
        let page = run(binary, package, &["manpage"]);
        assert!(
            page.contains(&format!(".TH {binary} 1")),
            "{binary}: {page}"
        );
        let escaped = binary.replace('-', "\\-");
        for command in &commands {
            assert!(
                page.contains(&format!("{escaped}\\-{command}(1)")),
                "{binary} man page lacks {command}"
            );
        }

        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("man");
        let listed = run(
            binary,
            package,
            &["manpage", "--dir", target.to_str().unwrap()],
        );
        let mut expected: Vec<String> = commands
            .iter()
            .map(|command| format!("{binary}-{command}.1"))
            .chain([format!("{binary}.1")])
            .collect();
        expected.sort();
        let mut written: Vec<String> = std::fs::read_dir(&target)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with(&format!("{binary}-definition-")))
            .collect();
        written.sort();
        assert_eq!(written, expected, "{binary}");
        for name in &expected {
            let page = target.join(name);
            assert!(
                std::fs::metadata(&page).unwrap().len() > 0,
                "{name} is empty"
            );
            assert!(
                listed.contains(&format!("{}\n", page.display())),
                "{listed}"
            );
        }
    }
}
