//! Workflow tests of updates and rollbacks on the fake engine: the whole A/B transaction and
//! rollback, and a failure injected at EVERY engine call an update makes — each followed by the
//! recovery the next command runs — always ending in one consistent state: one running container
//! named `horizonos-NAME`, the record naming its generation, no journal, nothing half-made.

use crate::engine::fake::{EngineCall, FakeEngine};
use crate::labels;
use crate::lifecycle::tests::Fixture;
use crate::lifecycle::{DesktopHost, InstallOutcome};

use super::*;

/// A digest-pinned image: an update needs no registry lookup (the fake pull reports another
/// digest, so the installed generation always differs from the pinned one).
fn pinned() -> String {
    format!("registry.example.com/tools/base@sha256:{}", "ab".repeat(32))
}

fn fixture() -> Fixture {
    Fixture::new(serde_json::json!({
        "name": "tools", "image": pinned(), "persistent": true,
        "export_binaries": ["git"], "verify": [["git", "--version"]]
    }))
}

async fn installed(fixture: &Fixture) -> FakeEngine {
    let engine = FakeEngine::new(&[&pinned()]);
    let outcome = fixture.install(&engine).await.unwrap();
    assert!(
        matches!(outcome, InstallOutcome::Installed { .. }),
        "{outcome:?}"
    );
    engine
}

async fn run_update(fixture: &Fixture, engine: &FakeEngine) -> Result<UpdateOutcome, UpdateError> {
    run_update_with(fixture, engine, false).await
}

/// An update, or with `rebuild` a reinstall (the next generation even when nothing changed).
async fn run_update_with(
    fixture: &Fixture,
    engine: &FakeEngine,
    rebuild: bool,
) -> Result<UpdateOutcome, UpdateError> {
    let stores = UpdateStores::new(&fixture.state_dir());
    let lock = ContainerLock::acquire(&stores.state_dir, "tools", "update", LockWait::FailIfBusy)?;
    let desktop = DesktopHost::default();
    let registry = RegistryClient::default();
    let request = UpdateRequest {
        resolved: &fixture.resolved,
        stores: &stores,
        desktop: &desktop,
        registry: &registry,
        keep_previous: DEFAULT_KEEP_PREVIOUS,
        agent: None,
        rebuild,
        definition_change: None,
    };
    update(engine, &lock, request, &|_| {}).await
}

async fn run_rollback(
    fixture: &Fixture,
    engine: &FakeEngine,
    target: RollbackTarget,
) -> Result<RollbackOutcome, UpdateError> {
    let stores = UpdateStores::new(&fixture.state_dir());
    let lock =
        ContainerLock::acquire(&stores.state_dir, "tools", "rollback", LockWait::FailIfBusy)?;
    rollback(engine, &lock, &stores, target).await
}

/// What the next command does first.
async fn run_recovery(fixture: &Fixture, engine: &FakeEngine) -> Option<Recovery> {
    let stores = UpdateStores::new(&fixture.state_dir());
    recover_if_interrupted(engine, &stores, "tools")
        .await
        .unwrap()
}

/// (name, generation, running) of every container, sorted by name.
fn containers(engine: &FakeEngine) -> Vec<(String, String, bool)> {
    let mut listed: Vec<_> = engine
        .containers()
        .into_iter()
        .map(|container| {
            let generation = container
                .spec
                .labels
                .get(labels::GENERATION)
                .cloned()
                .unwrap_or_else(|| "build".into());
            (container.spec.name, generation, container.running)
        })
        .collect();
    listed.sort();
    listed
}

/// The one consistent state: the active container runs `generation` and the record says so; the
/// others are stopped kept generations named for them; every generation image has a container.
fn assert_consistent(fixture: &Fixture, engine: &FakeEngine, generation: u64, context: &str) {
    let listed = containers(engine);
    let active: Vec<_> = listed
        .iter()
        .filter(|(name, _, _)| name == "horizonos-tools")
        .collect();
    assert_eq!(
        active,
        [&("horizonos-tools".to_owned(), generation.to_string(), true)],
        "{context}: {listed:?}"
    );
    for (name, label, running) in &listed {
        if name != "horizonos-tools" {
            assert_eq!(
                (name.as_str(), *running),
                (format!("horizonos-tools-{label}").as_str(), false),
                "{context}: {listed:?}"
            );
        }
    }
    let stores = UpdateStores::new(&fixture.state_dir());
    let record = stores.records.read("tools").unwrap().unwrap();
    assert_eq!(record.generation, generation, "{context}");
    assert!(!stores.journals.exists("tools"), "{context}: journal left");
    let mut with_containers: Vec<String> = listed.iter().map(|(_, g, _)| g.clone()).collect();
    with_containers.sort();
    with_containers.dedup();
    let mut generation_images: Vec<String> = engine
        .images()
        .into_iter()
        .filter_map(|image| image.labels.get(labels::GENERATION).cloned())
        .collect();
    generation_images.sort();
    generation_images.dedup();
    assert_eq!(generation_images, with_containers, "{context}");
}

#[tokio::test]
async fn an_update_is_built_beside_swapped_in_kept_and_rolled_back() {
    let fixture = fixture();
    let engine = installed(&fixture).await;
    let outcome = run_update(&fixture, &engine).await.unwrap();
    assert_eq!(
        outcome,
        UpdateOutcome::Updated {
            from: GenerationRef {
                generation: 1,
                image_digest: Some("sha256:feed".into())
            },
            to: GenerationRef {
                generation: 2,
                image_digest: Some(format!("sha256:{}", "ab".repeat(32)))
            },
            pruned: vec![],
            prune_failures: vec![],
        }
    );
    assert_consistent(&fixture, &engine, 2, "updated");
    // The new container was created beside the running one and verified before the old stopped.
    let calls = engine.calls();
    let position = |call: &str| {
        calls
            .iter()
            .position(|made| made == call)
            .unwrap_or_else(|| panic!("{call} not in {calls:?}"))
    };
    let verified = calls
        .iter()
        .rposition(|call| call == "exec sh -c command -v -- \"$1\" >/dev/null sh git")
        .unwrap();
    assert!(position("create_container horizonos-tools-2") < verified);
    let stopped = calls
        .iter()
        .position(|call| call.starts_with("stop_container "))
        .unwrap();
    assert!(verified < stopped, "{calls:?}");

    // The same digest again: up to date, nothing built.
    let before = engine.calls().len();
    let again = run_update(&fixture, &engine).await.unwrap();
    assert!(matches!(again, UpdateOutcome::UpToDate { .. }), "{again:?}");
    assert!(
        engine.calls()[before..]
            .iter()
            .all(|call| call.starts_with("list_")),
        "{:?}",
        &engine.calls()[before..]
    );

    let back = run_rollback(&fixture, &engine, RollbackTarget::Previous)
        .await
        .unwrap();
    assert!(
        matches!(&back, RollbackOutcome::RolledBack { from, to } if from.generation == 2 && to.generation == 1),
        "{back:?}"
    );
    assert_consistent(&fixture, &engine, 1, "rolled back");
    let stores = UpdateStores::new(&fixture.state_dir());
    assert_eq!(
        stores
            .records
            .read("tools")
            .unwrap()
            .unwrap()
            .image_digest
            .as_deref(),
        Some("sha256:feed"),
        "the kept record is restored"
    );
    let error = run_rollback(&fixture, &engine, RollbackTarget::Previous)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "`tools` has nothing to roll back to: generation 1 runs and no older generation is kept (kept: 2)"
    );
    let error = run_rollback(&fixture, &engine, RollbackTarget::Generation(7))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "`tools` has no generation 7 to return to (kept: 2)"
    );
    let forward = run_rollback(&fixture, &engine, RollbackTarget::Generation(2))
        .await
        .unwrap();
    assert!(matches!(forward, RollbackOutcome::RolledBack { .. }));
    assert_consistent(&fixture, &engine, 2, "forward");
}

#[tokio::test]
async fn a_rebuild_replaces_an_up_to_date_container_and_keeps_the_previous_for_rollback() {
    let fixture = fixture();
    let engine = installed(&fixture).await;
    run_update(&fixture, &engine).await.unwrap();
    let up_to_date = run_update(&fixture, &engine).await.unwrap();
    assert!(
        matches!(up_to_date, UpdateOutcome::UpToDate { .. }),
        "{up_to_date:?}"
    );

    let rebuilt = run_update_with(&fixture, &engine, true).await.unwrap();
    let pinned_digest = Some(format!("sha256:{}", "ab".repeat(32)));
    assert_eq!(
        rebuilt,
        UpdateOutcome::Updated {
            from: GenerationRef {
                generation: 2,
                image_digest: pinned_digest.clone()
            },
            to: GenerationRef {
                generation: 3,
                image_digest: pinned_digest
            },
            pruned: vec![],
            prune_failures: vec![],
        }
    );
    assert_consistent(&fixture, &engine, 3, "rebuilt");
    assert_eq!(
        containers(&engine),
        [
            ("horizonos-tools".to_owned(), "3".to_owned(), true),
            ("horizonos-tools-1".to_owned(), "1".to_owned(), false),
            ("horizonos-tools-2".to_owned(), "2".to_owned(), false),
        ]
    );
    let back = run_rollback(&fixture, &engine, RollbackTarget::Previous)
        .await
        .unwrap();
    assert!(
        matches!(&back, RollbackOutcome::RolledBack { from, to } if from.generation == 3 && to.generation == 2),
        "{back:?}"
    );
    assert_consistent(&fixture, &engine, 2, "rolled back from the rebuild");
}

#[test]
fn a_recovery_names_the_operation_it_finished() {
    let recovery = |operation, action| {
        Recovery {
            name: "tools".into(),
            operation,
            interrupted_after: JournalStep::Begun,
            action,
            generation: 3,
        }
        .to_string()
    };
    assert_eq!(
        recovery(Operation::Update, RecoveryAction::Reverted),
        "an interrupted update of tools was reverted; generation 3 runs"
    );
    assert_eq!(
        recovery(Operation::Reinstall, RecoveryAction::Completed),
        "an interrupted reinstall of tools was completed; generation 3 runs"
    );
    assert_eq!(
        recovery(Operation::Rollback, RecoveryAction::Completed),
        "an interrupted rollback of tools was completed; generation 3 runs"
    );
}

#[tokio::test]
async fn only_the_newest_kept_generations_survive_pruning() {
    let fixture = Fixture::new(serde_json::json!({
        "name": "tools", "image": pinned(), "persistent": true
    }));
    let engine = installed(&fixture).await;
    let stores = UpdateStores::new(&fixture.state_dir());
    // Each update needs a changed install record to differ from: forget the digest each time.
    for expected in 2..=5 {
        let mut record = stores.records.read("tools").unwrap().unwrap();
        record.image_digest = None;
        stores.records.write(&record).unwrap();
        let outcome = run_update(&fixture, &engine).await.unwrap();
        let UpdateOutcome::Updated { to, pruned, .. } = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(to.generation, expected);
        let expected_pruned: Vec<u64> = if expected > 3 {
            vec![expected - 3]
        } else {
            vec![]
        };
        assert_eq!(pruned, expected_pruned);
    }
    assert_consistent(&fixture, &engine, 5, "after four updates");
    let kept: Vec<String> = containers(&engine)
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(
        kept,
        ["horizonos-tools", "horizonos-tools-3", "horizonos-tools-4"]
    );
    assert_eq!(
        stores.history.read("tools", 2).unwrap(),
        None,
        "pruned records go too"
    );
    assert!(stores.history.read("tools", 4).unwrap().is_some());
}

#[tokio::test]
async fn a_failure_at_every_engine_call_of_an_update_ends_consistent_after_recovery() {
    // The calls a successful update makes, after those of the install.
    let reference = fixture();
    let engine = installed(&reference).await;
    let install_calls = engine.calls();
    run_update(&reference, &engine).await.unwrap();
    let update_calls: Vec<String> = engine.calls()[install_calls.len()..].to_vec();
    assert!(update_calls.len() > 15, "{update_calls:?}");
    let operation_of = |call: &str| call.split(' ').next().unwrap_or_default().to_owned();
    let (mut failed_before_swap, mut failed_later) = (0, 0);
    for (index, call) in update_calls.iter().enumerate() {
        let operation = operation_of(call);
        let nth = install_calls
            .iter()
            .chain(&update_calls[..=index])
            .filter(|made| operation_of(made) == operation)
            .count();
        let fixture = fixture();
        let mut engine = FakeEngine::new(&[&pinned()]);
        let outcome = fixture.install(&engine).await.unwrap();
        assert!(matches!(outcome, InstallOutcome::Installed { .. }));
        let operation = EngineCall::from_name(&operation).expect("a recorded engine call");
        engine.fail(operation, nth);
        engine.exec_script = Box::new(|_| (0, Vec::new()));
        let context = format!("failure of call {index} ({call})");
        let result = run_update(&fixture, &engine).await;
        // The next command recovers whatever the failure left.
        run_recovery(&fixture, &engine).await;
        let generation = match &result {
            Ok(UpdateOutcome::Updated { to, .. }) => to.generation,
            Ok(other) => panic!("{context}: {other:?}"),
            Err(error) => {
                let stores = UpdateStores::new(&fixture.state_dir());
                let generation = stores.records.read("tools").unwrap().unwrap().generation;
                if let UpdateError::UpdateFailed { step, .. } = error
                    && step.before_swap()
                {
                    assert_eq!(generation, 1, "{context}: {error}");
                    assert!(
                        error.left_running_container_untouched(),
                        "{context}: {error}"
                    );
                    failed_before_swap += 1;
                } else {
                    failed_later += 1;
                }
                generation
            }
        };
        assert_consistent(&fixture, &engine, generation, &context);
    }
    // The injections really hit: build/verify failures, and swap failures.
    assert!(
        failed_before_swap >= 8 && failed_later >= 3,
        "{failed_before_swap} {failed_later}"
    );
}

#[tokio::test]
async fn a_reader_recovers_only_a_transaction_nobody_holds() {
    let fixture = fixture();
    let engine = installed(&fixture).await;
    let stores = UpdateStores::new(&fixture.state_dir());
    let record = stores.records.read("tools").unwrap().unwrap();
    // A transaction that only began: its journal, no objects yet.
    let journal = Journal {
        schema_version: journal::JOURNAL_SCHEMA_VERSION,
        operation: Operation::Update,
        name: "tools".into(),
        pid: 1,
        started_at: "2026-01-01T00:00:00Z".into(),
        from_generation: 1,
        from_container: record.container_id.clone(),
        from_was_running: true,
        to_generation: 2,
        to_record: None,
        keep_previous: DEFAULT_KEEP_PREVIOUS,
        pulled_image: None,
        steps: vec![JournalStep::Begun],
        definition_change: None,
    };
    stores.journals.write(&journal).unwrap();

    // While a writer holds the lock, the transaction is in progress: a reader leaves it alone.
    let held =
        ContainerLock::acquire(&stores.state_dir, "tools", "update", LockWait::FailIfBusy).unwrap();
    assert_eq!(run_recovery(&fixture, &engine).await, None);
    assert!(stores.journals.exists("tools"));

    // Once the holder is gone (it died), the next reader reverts it.
    drop(held);
    let recovery = run_recovery(&fixture, &engine).await.unwrap();
    assert_eq!(
        (
            recovery.action,
            recovery.generation,
            recovery.interrupted_after
        ),
        (RecoveryAction::Reverted, 1, JournalStep::Begun)
    );
    assert_consistent(&fixture, &engine, 1, "recovered");
    // Without a journal there is nothing to do, and no lock is taken.
    assert_eq!(run_recovery(&fixture, &engine).await, None);
}

/// An update with a definition change, as a toolchain's setup makes it: `resolved` is the changed
/// definition (not on disk yet).
async fn run_update_changing(
    fixture: &Fixture,
    engine: &FakeEngine,
    resolved: &crate::definition::ResolvedDefinition,
    change: &DefinitionChange,
) -> Result<UpdateOutcome, UpdateError> {
    let stores = UpdateStores::new(&fixture.state_dir());
    let lock = ContainerLock::acquire(&stores.state_dir, "tools", "setup", LockWait::FailIfBusy)?;
    let desktop = DesktopHost::default();
    let registry = RegistryClient::default();
    let request = UpdateRequest {
        resolved,
        stores: &stores,
        desktop: &desktop,
        registry: &registry,
        keep_previous: DEFAULT_KEEP_PREVIOUS,
        agent: None,
        rebuild: false,
        definition_change: Some(change),
    };
    update(engine, &lock, request, &|_| {}).await
}

#[tokio::test]
async fn a_definition_change_is_written_only_by_a_verified_update_and_undone_by_rollback() {
    let fixture = fixture();
    let path = fixture.dir.path().join("user/tools.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let mut engine = installed(&fixture).await;
    let changed_text = serde_json::json!({
        "name": "tools", "image": pinned(), "persistent": true,
        "packages": ["make"], "export_binaries": ["git", "make"],
        "verify": [["git", "--version"], ["make", "--version"]]
    })
    .to_string();
    let changed = crate::definition::check_bytes(
        &sources_of(&fixture),
        &path,
        changed_text.as_bytes(),
        crate::definition::Layer::User,
    )
    .unwrap();
    let change = DefinitionChange {
        path: path.clone(),
        before: Some(original.clone()),
        after: Some(changed_text.clone()),
    };

    // The probe fails: the update is refused, the file is byte for byte as it was.
    engine.exec_script = Box::new(|request| {
        if request.argv == ["make", "--version"] {
            (1, b"make: not found\n".to_vec())
        } else {
            (0, Vec::new())
        }
    });
    let refused = run_update_changing(&fixture, &engine, &changed, &change).await;
    assert!(
        matches!(&refused, Err(error) if error.left_running_container_untouched()),
        "{refused:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
    assert_consistent(&fixture, &engine, 1, "a refused change");

    // Verified: the new generation runs and the file says what it has.
    engine.exec_script = Box::new(|_| (0, Vec::new()));
    run_update_changing(&fixture, &engine, &changed, &change)
        .await
        .unwrap();
    let generation = stores_of(&fixture)
        .records
        .read("tools")
        .unwrap()
        .unwrap()
        .generation;
    assert_consistent(&fixture, &engine, generation, "the change");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), changed_text);

    // Back to generation 1: its file again; forward: the change again.
    run_rollback(&fixture, &engine, RollbackTarget::Previous)
        .await
        .unwrap();
    assert_consistent(&fixture, &engine, 1, "rolled back");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
    run_rollback(&fixture, &engine, RollbackTarget::Generation(generation))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), changed_text);
}

fn stores_of(fixture: &Fixture) -> UpdateStores {
    UpdateStores::new(&fixture.state_dir())
}

fn sources_of(fixture: &Fixture) -> crate::definition::DefinitionSources {
    use std::os::unix::fs::MetadataExt;
    crate::definition::DefinitionSources {
        system_dir: fixture.dir.path().join("system"),
        user_dir: Some(fixture.dir.path().join("user")),
        home: Some(fixture.dir.path().to_path_buf()),
        system_owner: std::fs::metadata(fixture.dir.path()).unwrap().uid(),
    }
}
