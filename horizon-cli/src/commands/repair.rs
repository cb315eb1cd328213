//! `horizon-container repair NAME`: one call to `Horizon::repair` (the container's state files
//! that cannot be read — install record, update journal, kept generations' records — rebuilt
//! from the container and its generation history, each unreadable file kept beside it); what
//! was done on stdout.

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::usecase::{RebuiltFrom, RecordRepair, RepairReport};

use super::{Session, print_report};

pub async fn run(session: &Session, name: &str) -> Result<ExitCode, Failure> {
    let report = session.horizon.repair(session.call(), name).await?;
    print_report(session.json, &report, |out| render(out, &report))?;
    Ok(ExitCode::SUCCESS)
}

fn render(out: &mut impl Write, report: &RepairReport) -> std::io::Result<()> {
    let name = &report.name;
    if report.nothing_done() {
        return writeln!(out, "{name}: nothing to repair");
    }
    let mut done = Vec::new();
    if let Some(aside) = &report.journal_set_aside {
        done.push(format!(
            "the unreadable update journal is kept as {}; generation {} runs as it is",
            aside.display(),
            report.generation
        ));
    }
    if let RecordRepair::Rebuilt {
        generation,
        from,
        set_aside,
    } = &report.record
    {
        let from = match from {
            RebuiltFrom::GenerationHistory => "its generation history",
            _ => "its container",
        };
        let mut text =
            format!("the install record was rebuilt from {from} (generation {generation})");
        if let Some(aside) = set_aside {
            text.push_str(&format!(
                "; the unreadable file is kept as {}",
                aside.display()
            ));
        }
        done.push(text);
    }
    for kept in &report.kept {
        let mut text = format!(
            "the record of kept generation {} was rebuilt from its container",
            kept.generation
        );
        if let Some(aside) = &kept.set_aside {
            text.push_str(&format!(
                "; the unreadable file is kept as {}",
                aside.display()
            ));
        }
        done.push(text);
    }
    writeln!(out, "repaired {name}: {}", done.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use horizon_core::usecase::KeptRepair;

    fn report(record: RecordRepair, kept: Vec<KeptRepair>) -> RepairReport {
        RepairReport {
            name: "tools".into(),
            generation: 2,
            journal_set_aside: None,
            record,
            kept,
        }
    }

    fn rendered(report: &RepairReport) -> String {
        let mut out = Vec::new();
        render(&mut out, report).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn says_what_was_rebuilt_from_what_and_where_the_unreadable_files_went() {
        assert_eq!(
            rendered(&report(RecordRepair::Intact, vec![])),
            "tools: nothing to repair\n"
        );
        let mut both = report(
            RecordRepair::Rebuilt {
                generation: 2,
                from: RebuiltFrom::GenerationHistory,
                set_aside: Some("/s/containers/tools.json.unreadable".into()),
            },
            vec![KeptRepair {
                generation: 1,
                set_aside: None,
            }],
        );
        both.journal_set_aside = Some("/s/journal/tools.json.unreadable".into());
        assert_eq!(
            rendered(&both),
            "repaired tools: the unreadable update journal is kept as \
             /s/journal/tools.json.unreadable; generation 2 runs as it is; the install record \
             was rebuilt from its generation history (generation 2); the unreadable file is kept \
             as /s/containers/tools.json.unreadable; the record of kept generation 1 was rebuilt \
             from its container\n"
        );
    }
}
