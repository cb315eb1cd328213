//! A recording, in-memory [`Engine`] for workflow tests: it keeps containers and images as plain
//! data, records every call, fails the N-th call of a chosen [`EngineCall`] on request, answers
//! exec with a script, and can "tamper" with what inspect reports (as Podman silently ignoring a
//! create field would). A [`FakeHandle`] keeps access to all of it once the engine is handed to a
//! [`Horizon`](crate::Horizon).
//!
//! horizon-core's own workflow tests use it; other crates get it with the cargo feature
//! `fake-engine` (`horizon-core/tests/fake_engine.rs` shows a use case driven through it). It is
//! not Podman: the real engine has its own contract tests and the end-to-end tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::{
    AppliedSecurity, BindMount, ContainerDetails, ContainerSpec, ContainerState, ContainerSummary,
    Engine, EngineError, EngineInfo, EngineVersion, ExecRequest, ExecStreams, ImageDetails,
    ImageSummary, LabelFilter, NetworkMode, PruneReport, PullEvent, PulledImage, RunState,
    StateChange, Timestamp,
};

/// An [`Engine`] method, as the fake records it and fails it on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum EngineCall {
    /// [`Engine::ping`].
    Ping,
    /// [`Engine::version`].
    Version,
    /// [`Engine::info`].
    Info,
    /// [`Engine::pull_image`].
    PullImage,
    /// [`Engine::inspect_image`].
    InspectImage,
    /// [`Engine::tag_image`].
    TagImage,
    /// [`Engine::remove_image`].
    RemoveImage,
    /// [`Engine::list_images`].
    ListImages,
    /// [`Engine::prune_images`].
    PruneImages,
    /// [`Engine::create_container`].
    CreateContainer,
    /// [`Engine::inspect_container`].
    InspectContainer,
    /// [`Engine::start_container`].
    StartContainer,
    /// [`Engine::stop_container`].
    StopContainer,
    /// [`Engine::remove_container`].
    RemoveContainer,
    /// [`Engine::rename_container`].
    RenameContainer,
    /// [`Engine::list_containers`].
    ListContainers,
    /// [`Engine::prune_containers`].
    PruneContainers,
    /// [`Engine::commit_container`].
    CommitContainer,
    /// [`Engine::exec_attached`] (and [`Engine::exec`], which runs through it).
    Exec,
    /// [`Engine::logs`].
    Logs,
}

impl EngineCall {
    /// Every call.
    pub const ALL: [EngineCall; 20] = [
        EngineCall::Ping,
        EngineCall::Version,
        EngineCall::Info,
        EngineCall::PullImage,
        EngineCall::InspectImage,
        EngineCall::TagImage,
        EngineCall::RemoveImage,
        EngineCall::ListImages,
        EngineCall::PruneImages,
        EngineCall::CreateContainer,
        EngineCall::InspectContainer,
        EngineCall::StartContainer,
        EngineCall::StopContainer,
        EngineCall::RemoveContainer,
        EngineCall::RenameContainer,
        EngineCall::ListContainers,
        EngineCall::PruneContainers,
        EngineCall::CommitContainer,
        EngineCall::Exec,
        EngineCall::Logs,
    ];

    /// Its name in the recorded calls: the method's (`create_container`), `exec` for both execs.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineCall::Ping => "ping",
            EngineCall::Version => "version",
            EngineCall::Info => "info",
            EngineCall::PullImage => "pull_image",
            EngineCall::InspectImage => "inspect_image",
            EngineCall::TagImage => "tag_image",
            EngineCall::RemoveImage => "remove_image",
            EngineCall::ListImages => "list_images",
            EngineCall::PruneImages => "prune_images",
            EngineCall::CreateContainer => "create_container",
            EngineCall::InspectContainer => "inspect_container",
            EngineCall::StartContainer => "start_container",
            EngineCall::StopContainer => "stop_container",
            EngineCall::RemoveContainer => "remove_container",
            EngineCall::RenameContainer => "rename_container",
            EngineCall::ListContainers => "list_containers",
            EngineCall::PruneContainers => "prune_containers",
            EngineCall::CommitContainer => "commit_container",
            EngineCall::Exec => "exec",
            EngineCall::Logs => "logs",
        }
    }

    /// The call recorded as `name`, if one is.
    pub fn from_name(name: &str) -> Option<Self> {
        EngineCall::ALL
            .into_iter()
            .find(|call| call.as_str() == name)
    }
}

impl std::fmt::Display for EngineCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a scripted exec answers: exit code and output.
pub type ExecScript = Box<dyn Fn(&ExecRequest) -> (i64, Vec<u8>) + Send + Sync>;
/// Changes what inspect reports about a container.
pub type Tamper = Box<dyn Fn(&mut ContainerDetails) + Send + Sync>;

/// A container the fake holds.
#[derive(Clone, Debug)]
pub struct FakeContainer {
    /// Its id.
    pub id: String,
    /// Its spec as created.
    pub spec: ContainerSpec,
    /// The image id it runs.
    pub image_id: String,
    /// Running or not.
    pub running: bool,
    /// Started at least once.
    pub started: bool,
}

impl FakeContainer {
    /// Its state in Podman's terms.
    pub fn run_state(&self) -> RunState {
        if self.running {
            RunState::Running
        } else if self.started {
            RunState::Exited
        } else {
            RunState::Created
        }
    }
}

/// An image the fake holds.
#[derive(Clone, Debug, Default)]
pub struct FakeImage {
    /// Its id.
    pub id: String,
    /// Its names.
    pub names: Vec<String>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

#[derive(Default)]
struct World {
    containers: Vec<FakeContainer>,
    images: Vec<FakeImage>,
    calls: Vec<(EngineCall, String)>,
    failures: Vec<(EngineCall, usize)>,
    counts: BTreeMap<EngineCall, usize>,
    next_id: u64,
}

/// The shared, locked world of one fake engine.
#[derive(Clone, Default)]
struct SharedWorld(Arc<Mutex<World>>);

impl SharedWorld {
    fn lock(&self) -> MutexGuard<'_, World> {
        // A test that panicked while holding the lock leaves plain data behind: keep using it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The fake engine.
pub struct FakeEngine {
    world: SharedWorld,
    /// Registries that "have" an image: pulls of other references fail like an unreachable one.
    pub pullable: Vec<String>,
    /// Answers exec.
    pub exec_script: ExecScript,
    /// Applied to every inspect.
    pub tamper: Option<Tamper>,
    /// Reported by `info`.
    pub rootless: bool,
}

impl std::fmt::Debug for FakeEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeEngine").finish_non_exhaustive()
    }
}

/// A handle on a [`FakeEngine`]'s world (its containers, images, recorded calls and injected
/// failures) that stays with the test when the engine itself is handed over, e.g. to
/// [`Horizon::with_engine`](crate::Horizon::with_engine).
#[derive(Clone)]
pub struct FakeHandle {
    world: SharedWorld,
}

impl std::fmt::Debug for FakeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHandle").finish_non_exhaustive()
    }
}

impl FakeHandle {
    /// Makes the `nth` (1-based) call of `call` fail with HTTP 500 ("injected failure of
    /// create_container #2").
    pub fn fail(&self, call: EngineCall, nth: usize) {
        self.world.lock().failures.push((call, nth));
    }

    /// Every call so far, as `operation target` (`create_container horizonos-tools`).
    pub fn calls(&self) -> Vec<String> {
        self.world
            .lock()
            .calls
            .iter()
            .map(|(call, target)| format!("{call} {target}"))
            .collect()
    }

    /// The targets of every call of `call` so far, in order.
    pub fn calls_of(&self, call: EngineCall) -> Vec<String> {
        self.world
            .lock()
            .calls
            .iter()
            .filter(|(made, _)| *made == call)
            .map(|(_, target)| target.clone())
            .collect()
    }

    /// The containers it holds.
    pub fn containers(&self) -> Vec<FakeContainer> {
        self.world.lock().containers.clone()
    }

    /// The images it holds.
    pub fn images(&self) -> Vec<FakeImage> {
        self.world.lock().images.clone()
    }
}

impl FakeEngine {
    /// An empty engine from which `pullable` images can be pulled, whose exec answers 0.
    pub fn new(pullable: &[&str]) -> Self {
        FakeEngine {
            world: SharedWorld::default(),
            pullable: pullable.iter().map(|image| (*image).to_owned()).collect(),
            exec_script: Box::new(|_| (0, Vec::new())),
            tamper: None,
            rootless: true,
        }
    }

    /// A handle on this engine's world, to inject failures and look at what happened after the
    /// engine was handed over.
    pub fn handle(&self) -> FakeHandle {
        FakeHandle {
            world: self.world.clone(),
        }
    }

    /// Makes the `nth` (1-based) call of `call` fail (see [`FakeHandle::fail`]).
    pub fn fail(&self, call: EngineCall, nth: usize) {
        self.handle().fail(call, nth);
    }

    /// Every call so far, as `operation target`.
    pub fn calls(&self) -> Vec<String> {
        self.handle().calls()
    }

    /// The containers it holds.
    pub fn containers(&self) -> Vec<FakeContainer> {
        self.handle().containers()
    }

    /// The images it holds.
    pub fn images(&self) -> Vec<FakeImage> {
        self.handle().images()
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock()
    }

    /// Records a call and fails it when asked to.
    fn call(&self, call: EngineCall, target: &str) -> Result<(), EngineError> {
        let mut world = self.lock();
        world.calls.push((call, target.to_owned()));
        let count = world.counts.entry(call).or_insert(0);
        *count += 1;
        let count = *count;
        if world.failures.contains(&(call, count)) {
            return Err(EngineError::Api {
                operation: call.as_str(),
                status: 500,
                message: format!("injected failure of {call} #{count}"),
            });
        }
        Ok(())
    }

    fn new_id(world: &mut World) -> String {
        world.next_id += 1;
        format!("{:064x}", world.next_id)
    }
}

fn not_found(operation: &'static str, what: &str) -> EngineError {
    EngineError::NotFound {
        operation,
        message: format!("no such object: {what}"),
    }
}

fn find_container<'a>(world: &'a mut World, name: &str) -> Option<&'a mut FakeContainer> {
    world
        .containers
        .iter_mut()
        .find(|container| container.id == name || container.spec.name == name)
}

fn image_index(world: &World, reference: &str) -> Option<usize> {
    world
        .images
        .iter()
        .position(|image| image.id == reference || image.names.iter().any(|name| name == reference))
}

impl Engine for FakeEngine {
    async fn ping(&self) -> Result<(), EngineError> {
        self.call(EngineCall::Ping, "")
    }

    async fn version(&self) -> Result<EngineVersion, EngineError> {
        self.call(EngineCall::Version, "")?;
        Ok(EngineVersion {
            version: "4.3.1".into(),
            api_version: "4.3.1".into(),
            os_arch: "linux/amd64".into(),
        })
    }

    async fn info(&self) -> Result<EngineInfo, EngineError> {
        self.call(EngineCall::Info, "")?;
        Ok(EngineInfo {
            rootless: self.rootless,
            ..Default::default()
        })
    }

    async fn pull_image(
        &self,
        reference: &str,
        on_event: &(dyn Fn(&PullEvent) + Send + Sync),
    ) -> Result<PulledImage, EngineError> {
        self.call(EngineCall::PullImage, reference)?;
        if !self.pullable.iter().any(|image| image == reference) {
            return Err(EngineError::StreamError {
                operation: "pull image",
                message: format!("initializing source docker://{reference}: connection refused"),
            });
        }
        on_event(&PullEvent {
            layer: Some("0123456789ab".into()),
            status: "Download complete".into(),
            current: None,
            total: None,
        });
        let mut world = self.lock();
        if let Some(index) = image_index(&world, reference) {
            return Ok(PulledImage {
                id: world.images[index].id.clone(),
                digest: Some("sha256:feed".into()),
                digests: vec!["sha256:feed".into()],
            });
        }
        let id = Self::new_id(&mut world);
        world.images.push(FakeImage {
            id: id.clone(),
            names: vec![reference.to_owned()],
            labels: BTreeMap::new(),
        });
        Ok(PulledImage {
            id,
            digest: Some("sha256:feed".into()),
            digests: vec!["sha256:feed".into()],
        })
    }

    async fn inspect_image(&self, reference: &str) -> Result<ImageDetails, EngineError> {
        self.call(EngineCall::InspectImage, reference)?;
        let world = self.lock();
        let image = image_index(&world, reference)
            .map(|index| &world.images[index])
            .ok_or_else(|| not_found("inspect image", reference))?;
        Ok(ImageDetails {
            id: image.id.clone(),
            digest: None,
            repo_digests: Vec::new(),
            repo_tags: image.names.clone(),
            labels: image.labels.clone(),
            created: Some(Timestamp::unix_epoch()),
            size: 0,
        })
    }

    async fn tag_image(&self, image: &str, repository: &str, tag: &str) -> Result<(), EngineError> {
        self.call(EngineCall::TagImage, image)?;
        let mut world = self.lock();
        let index = image_index(&world, image).ok_or_else(|| not_found("tag image", image))?;
        world.images[index]
            .names
            .push(format!("{repository}:{tag}"));
        Ok(())
    }

    async fn remove_image(&self, reference: &str, _force: bool) -> Result<(), EngineError> {
        self.call(EngineCall::RemoveImage, reference)?;
        let mut world = self.lock();
        let index =
            image_index(&world, reference).ok_or_else(|| not_found("remove image", reference))?;
        let id = world.images[index].id.clone();
        if world
            .containers
            .iter()
            .any(|container| container.image_id == id)
        {
            return Err(EngineError::Conflict {
                operation: "remove image",
                message: format!("image {id} is in use by a container"),
            });
        }
        world.images.remove(index);
        Ok(())
    }

    async fn list_images(&self, filter: &LabelFilter) -> Result<Vec<ImageSummary>, EngineError> {
        self.call(EngineCall::ListImages, "")?;
        Ok(self
            .lock()
            .images
            .iter()
            .filter(|image| filter.matches(&image.labels))
            .map(|image| ImageSummary {
                id: image.id.clone(),
                names: image.names.clone(),
                labels: image.labels.clone(),
                size: 0,
            })
            .collect())
    }

    async fn prune_images(&self, _all_unused: bool) -> Result<PruneReport, EngineError> {
        self.call(EngineCall::PruneImages, "")?;
        Ok(PruneReport::default())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        self.call(EngineCall::CreateContainer, &spec.name)?;
        let mut world = self.lock();
        if find_container(&mut world, &spec.name).is_some() {
            return Err(EngineError::Conflict {
                operation: "create container",
                message: format!("the container name {} is already in use", spec.name),
            });
        }
        let image_id = image_index(&world, &spec.image)
            .map(|index| world.images[index].id.clone())
            .ok_or_else(|| not_found("create container", &spec.image))?;
        let id = Self::new_id(&mut world);
        world.containers.push(FakeContainer {
            id: id.clone(),
            spec: spec.clone(),
            image_id,
            running: false,
            started: false,
        });
        Ok(id)
    }

    async fn inspect_container(&self, name: &str) -> Result<ContainerDetails, EngineError> {
        self.call(EngineCall::InspectContainer, name)?;
        let mut world = self.lock();
        let container =
            find_container(&mut world, name).ok_or_else(|| not_found("inspect container", name))?;
        let spec = &container.spec;
        let mut caps = if spec.privileged {
            vec!["CAP_ALL".to_owned()]
        } else {
            spec.cap_add.clone()
        };
        caps.sort();
        let mut details = ContainerDetails {
            id: container.id.clone(),
            name: spec.name.clone(),
            image_id: container.image_id.clone(),
            image_name: spec.image.clone(),
            created: Timestamp::unix_epoch(),
            state: ContainerState {
                status: container.run_state(),
                running: container.running,
                pid: 0,
                exit_code: 0,
                started_at: container.started.then(Timestamp::unix_epoch),
                finished_at: (container.started && !container.running).then(Timestamp::unix_epoch),
            },
            labels: spec.labels.clone(),
            mounts: spec
                .mounts
                .iter()
                .map(|mount| BindMount {
                    source: mount.source.clone(),
                    target: mount.target.clone(),
                    read_only: mount.read_only,
                })
                .collect(),
            security: AppliedSecurity {
                effective_caps: caps,
                privileged: spec.privileged,
                no_new_privileges: spec.no_new_privileges,
                seccomp_profile: String::new(),
                network_mode: match spec.network {
                    NetworkMode::Private => "slirp4netns",
                    NetworkMode::Host => "host",
                    NetworkMode::None => "none",
                }
                .into(),
                userns_mode: if spec.userns.is_some() { "keep-id" } else { "" }.into(),
                uid_map: Vec::new(),
            },
        };
        drop(world);
        if let Some(tamper) = &self.tamper {
            tamper(&mut details);
        }
        Ok(details)
    }

    async fn start_container(&self, name: &str) -> Result<StateChange, EngineError> {
        self.call(EngineCall::StartContainer, name)?;
        let mut world = self.lock();
        let container =
            find_container(&mut world, name).ok_or_else(|| not_found("start container", name))?;
        if container.running {
            return Ok(StateChange::AlreadyInState);
        }
        container.running = true;
        container.started = true;
        Ok(StateChange::Changed)
    }

    async fn stop_container(
        &self,
        name: &str,
        _timeout: Duration,
    ) -> Result<StateChange, EngineError> {
        self.call(EngineCall::StopContainer, name)?;
        let mut world = self.lock();
        let container =
            find_container(&mut world, name).ok_or_else(|| not_found("stop container", name))?;
        if !container.running {
            return Ok(StateChange::AlreadyInState);
        }
        container.running = false;
        Ok(StateChange::Changed)
    }

    async fn remove_container(&self, name: &str, force: bool) -> Result<(), EngineError> {
        self.call(EngineCall::RemoveContainer, name)?;
        let mut world = self.lock();
        let index = world
            .containers
            .iter()
            .position(|container| container.id == name || container.spec.name == name)
            .ok_or_else(|| not_found("remove container", name))?;
        if world.containers[index].running && !force {
            return Err(EngineError::Api {
                operation: "remove container",
                status: 500,
                message: "cannot remove a running container".into(),
            });
        }
        world.containers.remove(index);
        Ok(())
    }

    async fn rename_container(&self, name: &str, new_name: &str) -> Result<(), EngineError> {
        self.call(EngineCall::RenameContainer, name)?;
        let mut world = self.lock();
        let container =
            find_container(&mut world, name).ok_or_else(|| not_found("rename container", name))?;
        container.spec.name = new_name.to_owned();
        Ok(())
    }

    async fn list_containers(
        &self,
        filter: &LabelFilter,
    ) -> Result<Vec<ContainerSummary>, EngineError> {
        self.call(EngineCall::ListContainers, "")?;
        Ok(self
            .lock()
            .containers
            .iter()
            .filter(|container| filter.matches(&container.spec.labels))
            .map(|container| ContainerSummary {
                id: container.id.clone(),
                name: container.spec.name.clone(),
                image: container.spec.image.clone(),
                image_id: container.image_id.clone(),
                state: container.run_state(),
                labels: container.spec.labels.clone(),
            })
            .collect())
    }

    async fn prune_containers(&self, _filter: &LabelFilter) -> Result<PruneReport, EngineError> {
        self.call(EngineCall::PruneContainers, "")?;
        Ok(PruneReport::default())
    }

    async fn commit_container(
        &self,
        name: &str,
        repository: &str,
        tag: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
        self.call(EngineCall::CommitContainer, name)?;
        let mut world = self.lock();
        let container =
            find_container(&mut world, name).ok_or_else(|| not_found("commit container", name))?;
        let mut image_labels = container.spec.labels.clone();
        image_labels.extend(labels.clone());
        let id = Self::new_id(&mut world);
        world.images.push(FakeImage {
            id: id.clone(),
            names: vec![format!("{repository}:{tag}")],
            labels: image_labels,
        });
        Ok(id)
    }

    async fn exec_attached(
        &self,
        container: &str,
        request: &ExecRequest,
        streams: ExecStreams<'_>,
    ) -> Result<i64, EngineError> {
        self.call(EngineCall::Exec, &request.argv.join(" "))?;
        let running =
            find_container(&mut self.lock(), container).is_some_and(|found| found.running);
        if !running {
            return Err(EngineError::Api {
                operation: "exec",
                status: 500,
                message: format!("container {container} is not running"),
            });
        }
        let (code, output) = (self.exec_script)(request);
        streams
            .stdout
            .write_all(&output)
            .await
            .map_err(|error| EngineError::Output {
                operation: "exec",
                kind: error.kind(),
                message: error.to_string(),
            })?;
        Ok(code)
    }

    async fn logs(
        &self,
        container: &str,
        _follow: bool,
        _tail: Option<u64>,
        _streams: ExecStreams<'_>,
    ) -> Result<(), EngineError> {
        self.call(EngineCall::Logs, container)
    }
}
