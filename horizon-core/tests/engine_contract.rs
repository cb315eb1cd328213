//! Contract tests of [`PodmanEngine`] against wiremock (and, for stalled streams, a tiny HTTP
//! server of our own): for every [`Engine`] method, the exact request Podman 4.3.1 expects (method,
//! path with its API prefix, query, JSON body) and every mapping of its answers to
//! [`EngineError`]: 404 → `NotFound`, 304 → `AlreadyInState`, 409 → `Conflict`, other statuses →
//! `Api` with Podman's message, an error inside an HTTP 200 stream → `StreamError`, a stream that
//! ends before the operation completed → `StreamTruncated`, a slow answer or a stalled stream →
//! `Timeout`, nothing listening → `Unreachable`; an answer without a field horizon reads →
//! `MissingField`, one with a value it cannot read (a state word Podman does not have, a malformed
//! time) → `InvalidField`, both naming the operation and the field.
//!
//! Prefixes: our raw client speaks `/v4.0.0/libpod`, podman-api 0.11 `/v4.3.1/libpod`, and the
//! pull (byte progress) and rename use the Docker-compatible `/v1.41`. wiremock cannot answer with
//! a protocol upgrade, so the attached exec stream (create, the hijacked start, inspect for the
//! exit code) runs against a small scripted server; stdin, TTYs, resize and signals are tested end
//! to end.

// Test code: a panic with the value is the most useful failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use horizon_core::Endpoint;
use horizon_core::engine::{
    AppliedSecurity, BindMount, ContainerDetails, ContainerSpec, ContainerState, ContainerSummary,
    DeviceMapping, Engine, EngineError, EngineInfo, EngineTimeouts, EngineVersion, ExecOutput,
    ExecRequest, ExecStreams, ImageDetails, ImageSummary, LabelFilter, NetworkMode, PruneReport,
    PullEvent, PulledImage, RunState, StateChange, Timestamp, UserNamespace,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{body_json, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Limits small enough that the timeout tests finish quickly, large enough for a loaded machine.
const TIMEOUTS: EngineTimeouts = EngineTimeouts {
    request: Duration::from_millis(700),
    long_request: Duration::from_millis(700),
    no_progress: Duration::from_millis(700),
};
/// How long the "slow" answers take: well past every limit above.
const TOO_SLOW: Duration = Duration::from_secs(5);

const LIBPOD: &str = "/v4.0.0/libpod";
const PODMAN_API: &str = "/v4.3.1/libpod";
const COMPAT: &str = "/v1.41";

const IMAGE: &str = "127.0.0.1:5000/horizon/busybox:latest";
const IMAGE_ID: &str = "0f2c7d8ba7b0e6b5d0e3a3b8fcd5fa5f7a3e0f1c2b3a4d5e6f708192a3b4c5d6";
const DIGEST: &str = "sha256:5c5b2d3c0fa4b4b5d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4";

fn engine_for(server: &MockServer) -> horizon_core::engine::PodmanEngine {
    let address = server.address();
    horizon_core::engine::PodmanEngine::with_timeouts(
        &Endpoint::Tcp {
            host: address.ip().to_string(),
            port: address.port(),
        },
        TIMEOUTS,
    )
}

/// A time as Podman writes it.
fn time(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Podman's error body (libpod's `errorhandling.ErrorModel`).
fn podman_error(status: u16, message: &str, cause: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "cause": cause,
        "message": message,
        "response": status,
    }))
}

const NO_SUCH_CONTAINER: &str = "no container with name or ID \"ghost\" found: no such container";
const NO_SUCH_IMAGE: &str = "ghost: image not known";

fn assert_not_found(result: Result<impl std::fmt::Debug, EngineError>, op: &str, message: &str) {
    match result {
        Err(EngineError::NotFound {
            operation,
            message: got,
        }) => {
            assert_eq!(operation, op);
            assert_eq!(got, message);
        }
        other => panic!("expected NotFound from {op}, got {other:?}"),
    }
}

fn assert_conflict(result: Result<impl std::fmt::Debug, EngineError>, op: &str, message: &str) {
    match result {
        Err(EngineError::Conflict {
            operation,
            message: got,
        }) => {
            assert_eq!(operation, op);
            assert_eq!(got, message);
        }
        other => panic!("expected Conflict from {op}, got {other:?}"),
    }
}

fn assert_api(
    result: Result<impl std::fmt::Debug, EngineError>,
    op: &str,
    status: u16,
    message: &str,
) {
    match result {
        Err(EngineError::Api {
            operation,
            status: got_status,
            message: got,
        }) => {
            assert_eq!((operation, got_status, got.as_str()), (op, status, message));
        }
        other => panic!("expected Api {status} from {op}, got {other:?}"),
    }
}

fn assert_timeout(result: Result<impl std::fmt::Debug, EngineError>, op: &str, started: Instant) {
    match result {
        Err(EngineError::Timeout { operation, after }) => {
            assert_eq!(operation, op);
            assert_eq!(after, Duration::from_millis(700));
            assert!(
                started.elapsed() < TOO_SLOW,
                "{op} waited {:?}: the limit did not cut it short",
                started.elapsed()
            );
        }
        other => panic!("expected Timeout from {op}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// ping, version, info

#[tokio::test]
async fn ping_asks_libpod_ping() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/_ping")))
        .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
        .expect(1)
        .mount(&server)
        .await;
    engine_for(&server).ping().await.unwrap();
}

#[tokio::test]
async fn ping_maps_an_error_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/_ping")))
        .respond_with(podman_error(
            500,
            "database is locked",
            "database is locked",
        ))
        .mount(&server)
        .await;
    assert_api(
        engine_for(&server).ping().await,
        "ping",
        500,
        "database is locked",
    );
}

#[tokio::test]
async fn version_reads_the_libpod_api_version_of_the_podman_engine_component() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/version")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "Platform": {"Name": "linux/amd64/debian-12"},
            "Components": [
                {"Name": "Podman Engine", "Version": "4.3.1",
                 "Details": {"APIVersion": "4.3.1", "MinAPIVersion": "4.0.0"}},
                {"Name": "Conmon", "Version": "conmon version 2.1.6"}
            ],
            "Version": "4.3.1",
            "ApiVersion": "1.41",
            "MinAPIVersion": "1.24",
            "Os": "linux",
            "Arch": "amd64"
        })))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        engine_for(&server).version().await.unwrap(),
        EngineVersion {
            version: "4.3.1".into(),
            api_version: "4.3.1".into(),
            os_arch: "linux/amd64".into(),
        }
    );
}

#[tokio::test]
async fn info_reads_rootless_storage_runtime_and_cgroups() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/info")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "host": {
                "security": {"rootless": true, "seccompEnabled": true},
                "ociRuntime": {"name": "runc", "path": "/usr/bin/runc"},
                "cgroupManager": "cgroupfs"
            },
            "store": {"graphDriverName": "vfs", "graphRoot": "/home/u/.local/share/containers/storage"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        engine_for(&server).info().await.unwrap(),
        EngineInfo {
            rootless: true,
            storage_driver: "vfs".into(),
            graph_root: "/home/u/.local/share/containers/storage".into(),
            oci_runtime: "runc".into(),
            cgroup_manager: "cgroupfs".into(),
        }
    );
}

#[tokio::test]
async fn info_without_the_rootless_flag_is_a_missing_field() {
    // keep-id is asked for only when the service is rootless: a missing flag is not "rootful".
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/info")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "host": {
                "security": {"seccompEnabled": true},
                "ociRuntime": {"name": "runc"},
                "cgroupManager": "cgroupfs"
            },
            "store": {"graphDriverName": "vfs", "graphRoot": "/var/lib/containers/storage"}
        })))
        .mount(&server)
        .await;
    assert_eq!(
        engine_for(&server).info().await.unwrap_err().to_string(),
        "info: Podman's answer has no host.security.rootless"
    );
}

#[tokio::test]
async fn an_unreadable_answer_is_a_protocol_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/info")))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy</html>"))
        .mount(&server)
        .await;
    match engine_for(&server).info().await {
        Err(EngineError::Protocol { operation, .. }) => assert_eq!(operation, "info"),
        other => panic!("expected Protocol, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// pull

fn pull_mock(body: &str) -> Mock {
    Mock::given(method("POST"))
        .and(path(format!("{COMPAT}/images/create")))
        .and(query_param("fromImage", IMAGE))
        .and(query_param_is_missing("tag"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(body),
        )
}

fn image_inspection() -> Value {
    json!({
        "Id": IMAGE_ID,
        "Digest": DIGEST,
        "RepoTags": [IMAGE],
        "RepoDigests": [format!("127.0.0.1:5000/horizon/busybox@{DIGEST}")],
        "Created": "2026-11-25T10:00:00Z",
        "Size": 2_048_000,
        "Labels": {"io.horizonos.managed": "true"}
    })
}

fn inspect_image_path(reference: &str) -> String {
    format!("{LIBPOD}/images/{reference}/json")
}

async fn pull_collecting(
    server: &MockServer,
) -> (Result<PulledImage, EngineError>, Vec<PullEvent>) {
    let events = Mutex::new(Vec::new());
    let record = |event: &PullEvent| events.lock().unwrap().push(event.clone());
    let result = engine_for(server).pull_image(IMAGE, &record).await;
    (result, events.into_inner().unwrap())
}

#[tokio::test]
async fn pull_uses_the_compat_endpoint_reports_byte_progress_and_returns_the_image() {
    let server = MockServer::start().await;
    let stream = concat!(
        "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"a1b2c3\"}\n",
        "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1024,\"total\":4096},\"id\":\"a1b2c3\"}\n",
        "\n",
        "{\"status\":\"Download complete\",\"progressDetail\":{\"current\":4096,\"total\":0},\"id\":\"a1b2c3\"}\n",
        "{\"status\":\"Digest: sha256:5c5b\"}\n",
    );
    pull_mock(stream).expect(1).mount(&server).await;
    Mock::given(method("GET"))
        .and(path(inspect_image_path(IMAGE)))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_inspection()))
        .expect(1)
        .mount(&server)
        .await;
    let (result, events) = pull_collecting(&server).await;
    assert_eq!(
        result.unwrap(),
        PulledImage {
            id: IMAGE_ID.into(),
            digest: Some(DIGEST.into()),
            digests: vec![DIGEST.into()],
        }
    );
    let event = |status: &str, layer: Option<&str>, current, total| PullEvent {
        layer: layer.map(str::to_owned),
        status: status.into(),
        current,
        total,
    };
    assert_eq!(
        events,
        [
            event("Pulling fs layer", Some("a1b2c3"), None, None),
            event("Downloading", Some("a1b2c3"), Some(1024), Some(4096)),
            event("Download complete", Some("a1b2c3"), Some(4096), None),
            event("Digest: sha256:5c5b", None, None, None),
        ]
    );
}

#[tokio::test]
async fn pull_with_an_error_in_the_200_stream_is_a_stream_error() {
    let server = MockServer::start().await;
    let stream = concat!(
        "{\"status\":\"Trying to pull 127.0.0.1:5000/horizon/busybox:latest...\"}\n",
        "{\"error\":\"initializing source docker://127.0.0.1:5000/horizon/busybox:latest: connection refused\",",
        "\"errorDetail\":{\"message\":\"connection refused\"}}\n",
    );
    pull_mock(stream).mount(&server).await;
    let (result, events) = pull_collecting(&server).await;
    match result {
        Err(EngineError::StreamError { operation, message }) => {
            assert_eq!(operation, "pull image");
            assert_eq!(
                message,
                "initializing source docker://127.0.0.1:5000/horizon/busybox:latest: connection refused"
            );
        }
        other => panic!("expected StreamError, got {other:?}"),
    }
    assert_eq!(events.len(), 1, "{events:?}");
    // The image is never inspected after a failed stream.
    let inspected = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|request| request.url.path().ends_with("/json"))
        .count();
    assert_eq!(inspected, 0);
}

#[tokio::test]
async fn pull_whose_stream_ends_without_the_image_is_truncated() {
    let server = MockServer::start().await;
    pull_mock("{\"status\":\"Pulling fs layer\",\"id\":\"a1b2c3\"}\n")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(inspect_image_path(IMAGE)))
        .respond_with(podman_error(404, NO_SUCH_IMAGE, "image not known"))
        .expect(1)
        .mount(&server)
        .await;
    match pull_collecting(&server).await.0 {
        Err(EngineError::StreamTruncated { operation }) => assert_eq!(operation, "pull image"),
        other => panic!("expected StreamTruncated, got {other:?}"),
    }
}

#[tokio::test]
async fn pull_refused_with_a_status_maps_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{COMPAT}/images/create")))
        .respond_with(podman_error(
            500,
            "unauthorized: authentication required",
            "unauthorized",
        ))
        .mount(&server)
        .await;
    assert_api(
        pull_collecting(&server).await.0,
        "pull image",
        500,
        "unauthorized: authentication required",
    );
}

#[tokio::test]
async fn pull_with_a_garbled_stream_is_a_protocol_error() {
    let server = MockServer::start().await;
    pull_mock("not json\n").mount(&server).await;
    match pull_collecting(&server).await.0 {
        Err(EngineError::Protocol { operation, .. }) => assert_eq!(operation, "pull image"),
        other => panic!("expected Protocol, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// images

#[tokio::test]
async fn inspect_image_reads_ids_digests_tags_and_labels() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(inspect_image_path(IMAGE)))
        .respond_with(ResponseTemplate::new(200).set_body_json(image_inspection()))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        engine_for(&server).inspect_image(IMAGE).await.unwrap(),
        ImageDetails {
            id: IMAGE_ID.into(),
            digest: Some(DIGEST.into()),
            repo_digests: vec![format!("127.0.0.1:5000/horizon/busybox@{DIGEST}")],
            repo_tags: vec![IMAGE.into()],
            labels: BTreeMap::from([("io.horizonos.managed".into(), "true".into())]),
            created: Some(time("2026-11-25T10:00:00Z")),
            size: 2_048_000,
        }
    );
}

#[tokio::test]
async fn inspect_image_names_a_missing_id_or_a_malformed_time() {
    let inspect = |answer: Value| async move {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(inspect_image_path(IMAGE)))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .mount(&server)
            .await;
        engine_for(&server).inspect_image(IMAGE).await
    };
    let mut answer = image_inspection();
    answer.as_object_mut().unwrap().remove("Digest");
    match inspect(answer).await {
        Err(EngineError::MissingField { operation, field }) => {
            assert_eq!((operation, field.as_str()), ("inspect image", "Digest"));
        }
        other => panic!("expected MissingField, got {other:?}"),
    }
    let mut answer = image_inspection();
    answer["Created"] = json!("last tuesday");
    match inspect(answer).await {
        Err(EngineError::InvalidField {
            operation, field, ..
        }) => assert_eq!((operation, field.as_str()), ("inspect image", "Created")),
        other => panic!("expected InvalidField, got {other:?}"),
    }
    // An image whose configuration has no time has none; a local one has an empty digest; Podman
    // leaves out the labels of an image without any.
    let mut answer = image_inspection();
    answer.as_object_mut().unwrap().remove("Created");
    answer.as_object_mut().unwrap().remove("Labels");
    answer["Digest"] = json!("");
    let image = inspect(answer).await.unwrap();
    assert_eq!(
        (image.created, image.digest, image.labels),
        (None, None, BTreeMap::new())
    );
}

#[tokio::test]
async fn list_images_reads_a_dangling_image_without_names_and_names_a_missing_size() {
    let listed = |items: Value| async move {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(format!("{LIBPOD}/images/json")))
            .respond_with(ResponseTemplate::new(200).set_body_json(items))
            .mount(&server)
            .await;
        engine_for(&server)
            .list_images(&LabelFilter::default())
            .await
    };
    // Podman 4.3.1 leaves `Names` out of a dangling image.
    let images = listed(json!([{"Id": "dangling", "Labels": null, "Size": 7}]))
        .await
        .unwrap();
    assert_eq!(images[0].names, Vec::<String>::new());
    match listed(json!([{"Id": "a", "Labels": null, "Size": 1}, {"Id": "b", "Labels": null}])).await
    {
        Err(EngineError::MissingField { operation, field }) => {
            assert_eq!((operation, field.as_str()), ("list images", "[1].Size"));
        }
        other => panic!("expected MissingField, got {other:?}"),
    }
}

#[tokio::test]
async fn inspect_image_of_a_missing_image_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(inspect_image_path("ghost")))
        .respond_with(podman_error(404, NO_SUCH_IMAGE, "image not known"))
        .mount(&server)
        .await;
    assert_not_found(
        engine_for(&server).inspect_image("ghost").await,
        "inspect image",
        NO_SUCH_IMAGE,
    );
}

#[tokio::test]
async fn tag_image_goes_through_podman_api_with_repo_and_tag() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{PODMAN_API}/images/{IMAGE_ID}/tag")))
        .and(query_param("repo", "localhost/horizonos/dev"))
        .and(query_param("tag", "3"))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    engine_for(&server)
        .tag_image(IMAGE_ID, "localhost/horizonos/dev", "3")
        .await
        .unwrap();
}

#[tokio::test]
async fn tag_image_of_a_missing_image_is_not_found_with_podmans_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{PODMAN_API}/images/ghost/tag")))
        .respond_with(podman_error(404, NO_SUCH_IMAGE, "image not known"))
        .mount(&server)
        .await;
    assert_not_found(
        engine_for(&server)
            .tag_image("ghost", "localhost/horizonos/dev", "3")
            .await,
        "tag image",
        NO_SUCH_IMAGE,
    );
}

#[tokio::test]
async fn remove_image_sends_force_and_maps_in_use_to_conflict() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{LIBPOD}/images/{IMAGE}")))
        .and(query_param("force", "false"))
        .respond_with(podman_error(
            409,
            "image is in use by a container: consider listing external containers and force-removing image",
            "image is in use by a container",
        ))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{LIBPOD}/images/{IMAGE}")))
        .and(query_param("force", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "Deleted": [IMAGE_ID], "Untagged": [IMAGE], "Errors": [], "ExitCode": 0
        })))
        .expect(1)
        .mount(&server)
        .await;
    let engine = engine_for(&server);
    assert_conflict(
        engine.remove_image(IMAGE, false).await,
        "remove image",
        "image is in use by a container: consider listing external containers and force-removing image",
    );
    engine.remove_image(IMAGE, true).await.unwrap();
}

#[tokio::test]
async fn remove_image_of_a_missing_image_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{LIBPOD}/images/ghost")))
        .respond_with(podman_error(404, NO_SUCH_IMAGE, "image not known"))
        .mount(&server)
        .await;
    assert_not_found(
        engine_for(&server).remove_image("ghost", true).await,
        "remove image",
        NO_SUCH_IMAGE,
    );
}

#[tokio::test]
async fn list_images_filters_by_label_in_one_call() {
    // Podman 4.3.1 matches nothing when given two label filters: the first goes to Podman, all
    // of them are checked on what comes back.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/images/json")))
        .and(query_param("filters", r#"{"label":["io.horizonos.managed=true"]}"#))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"Id": IMAGE_ID, "Names": ["localhost/horizonos/dev:3"], "Labels": {"io.horizonos.managed": "true", "io.horizonos.definition": "dev"}, "Size": 42},
            {"Id": "other", "Names": ["localhost/other:1"], "Labels": {"io.horizonos.managed": "true"}, "Size": 7}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let filter = LabelFilter::managed().with("io.horizonos.definition", None);
    assert_eq!(
        engine_for(&server).list_images(&filter).await.unwrap(),
        [ImageSummary {
            id: IMAGE_ID.into(),
            names: vec!["localhost/horizonos/dev:3".into()],
            labels: BTreeMap::from([
                ("io.horizonos.managed".into(), "true".into()),
                ("io.horizonos.definition".into(), "dev".into())
            ]),
            size: 42,
        }]
    );
}

#[tokio::test]
async fn list_images_without_a_filter_lists_every_image() {
    // An empty label list is refused by Podman ("invalid image filter"): send no filters at all.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/images/json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"Id": "dangling", "Names": null, "Labels": null, "Size": 7}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let listed = engine_for(&server)
        .list_images(&LabelFilter::default())
        .await
        .unwrap();
    assert_eq!(
        listed,
        [ImageSummary {
            id: "dangling".into(),
            names: vec![],
            labels: BTreeMap::new(),
            size: 7,
        }]
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].url.query(), None);
}

#[tokio::test]
async fn list_images_lists_again_when_an_image_went_while_podman_listed() {
    // Podman 4.3.1 fails the whole list when another process removes an image meanwhile.
    let server = MockServer::start().await;
    let raced = r#"{"cause":"image not known","message":"retrieving size of image \"abc\": you may need to remove the image to resolve the error: locating image with ID \"abc\": image not known","response":500}"#;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/images/json")))
        .respond_with(ResponseTemplate::new(500).set_body_string(raced))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/images/json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"Id": "left", "Names": null, "Labels": null, "Size": 1}
        ])))
        .mount(&server)
        .await;
    let listed = engine_for(&server)
        .list_images(&LabelFilter::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    // Another 500 is not retried.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/images/json")))
        .respond_with(
            ResponseTemplate::new(500).set_body_string(
                r#"{"cause":"boom","message":"storage is broken","response":500}"#,
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = engine_for(&server)
        .list_images(&LabelFilter::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("storage is broken"), "{error}");
}

#[tokio::test]
async fn prune_images_reports_what_went_and_maps_an_item_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/images/prune")))
        .and(query_param("all", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"Id": "aaa", "Size": 100, "Err": null},
            {"Id": "bbb", "Size": 23}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/images/prune")))
        .and(query_param("all", "false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"Id": "ccc", "Size": 1, "Err": "image is in use by a container"}
        ])))
        .mount(&server)
        .await;
    let engine = engine_for(&server);
    assert_eq!(
        engine.prune_images(true).await.unwrap(),
        PruneReport {
            removed: vec!["aaa".into(), "bbb".into()],
            reclaimed_bytes: 123,
        }
    );
    match engine.prune_images(false).await {
        Err(EngineError::StreamError { operation, message }) => {
            assert_eq!(operation, "prune images");
            assert_eq!(message, "ccc: image is in use by a container");
        }
        other => panic!("expected StreamError, got {other:?}"),
    }
}

#[tokio::test]
async fn prune_with_nothing_to_prune_answers_null() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/images/prune")))
        .respond_with(ResponseTemplate::new(200).set_body_string("null"))
        .mount(&server)
        .await;
    assert_eq!(
        engine_for(&server).prune_images(false).await.unwrap(),
        PruneReport::default()
    );
}

// ---------------------------------------------------------------------------------------------
// containers

fn full_spec() -> ContainerSpec {
    ContainerSpec {
        name: "horizonos-dev".into(),
        image: "localhost/horizonos/dev:3".into(),
        command: vec!["sleep".into(), "infinity".into()],
        labels: BTreeMap::from([
            ("io.horizonos.managed".into(), "true".into()),
            ("io.horizonos.definition".into(), "dev".into()),
        ]),
        env: BTreeMap::from([("CONTAINER_PURPOSE".into(), "development".into())]),
        stop_timeout_secs: 5,
        mounts: vec![
            BindMount {
                source: "/home/u".into(),
                target: "/home/u".into(),
                read_only: false,
            },
            BindMount {
                source: "/etc/hosts".into(),
                target: "/etc/hosts".into(),
                read_only: true,
            },
        ],
        devices: vec![DeviceMapping {
            host: "/dev/dri".into(),
            container: "/dev/dri".into(),
            permissions: "rw".into(),
        }],
        network: NetworkMode::Private,
        privileged: false,
        cap_add: vec!["CAP_CHOWN".into(), "CAP_KILL".into()],
        no_new_privileges: true,
        userns: Some(UserNamespace::KeepId),
        user: Some("1000:1000".into()),
        hostname: Some("dev".into()),
        init: true,
        entrypoint: Some(Vec::new()),
    }
}

#[tokio::test]
async fn create_sends_the_whole_spec_dropping_every_capability_first() {
    let server = MockServer::start().await;
    let expected = json!({
        "name": "horizonos-dev",
        "image": "localhost/horizonos/dev:3",
        "command": ["sleep", "infinity"],
        "labels": {"io.horizonos.definition": "dev", "io.horizonos.managed": "true"},
        "env": {"CONTAINER_PURPOSE": "development"},
        "stop_timeout": 5,
        "mounts": [
            {"type": "bind", "source": "/home/u", "destination": "/home/u", "options": ["rbind", "rw"]},
            {"type": "bind", "source": "/etc/hosts", "destination": "/etc/hosts", "options": ["rbind", "ro"]}
        ],
        "devices": [{"path": "/dev/dri:/dev/dri:rw"}],
        "netns": {"nsmode": "private"},
        "privileged": false,
        "cap_drop": ["ALL"],
        "cap_add": ["CAP_CHOWN", "CAP_KILL"],
        "no_new_privileges": true,
        "userns": {"nsmode": "keep-id"},
        "user": "1000:1000",
        "hostname": "dev",
        "init": true,
        "entrypoint": []
    });
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/create")))
        .and(body_json(&expected))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"Id": "c0ffee", "Warnings": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        engine_for(&server)
            .create_container(&full_spec())
            .await
            .unwrap(),
        "c0ffee"
    );
}

#[tokio::test]
async fn create_of_a_minimal_spec_leaves_out_what_is_podmans_default() {
    let server = MockServer::start().await;
    let expected = json!({
        "name": "horizonos-min",
        "image": "localhost/horizonos/min:1",
        "labels": {},
        "env": {},
        "stop_timeout": 0,
        "mounts": [],
        "devices": [],
        "netns": {"nsmode": "host"},
        "privileged": false,
        "cap_drop": ["ALL"],
        "cap_add": [],
        "no_new_privileges": false
    });
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/create")))
        .and(body_json(&expected))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"Id": "m1n"})))
        .expect(1)
        .mount(&server)
        .await;
    let spec = ContainerSpec {
        name: "horizonos-min".into(),
        image: "localhost/horizonos/min:1".into(),
        network: NetworkMode::Host,
        ..Default::default()
    };
    assert_eq!(
        engine_for(&server).create_container(&spec).await.unwrap(),
        "m1n"
    );
}

#[tokio::test]
async fn create_maps_a_taken_name_to_conflict_and_a_missing_image_to_not_found() {
    let server = MockServer::start().await;
    let taken = "creating container storage: the container name \"horizonos-dev\" is already in use by c0ffee. You have to remove that container to be able to reuse that name: that name is already in use";
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/create")))
        .respond_with(podman_error(409, taken, "that name is already in use"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/create")))
        .respond_with(podman_error(
            404,
            "localhost/horizonos/dev:3: image not known",
            "image not known",
        ))
        .mount(&server)
        .await;
    let engine = engine_for(&server);
    assert_conflict(
        engine.create_container(&full_spec()).await,
        "create container",
        taken,
    );
    assert_not_found(
        engine.create_container(&full_spec()).await,
        "create container",
        "localhost/horizonos/dev:3: image not known",
    );
}

#[tokio::test]
async fn create_tries_again_when_rootless_podman_misreads_the_subordinate_ids() {
    // Podman 4.3.1's libsubid is not thread-safe: concurrent keep-id creates sometimes fail as if
    // /etc/subuid had no entry. An entry that is really missing fails every attempt alike.
    let misread = "keep-id requires additional UIDs or GIDs defined in /etc/subuid and /etc/subgid to function correctly: %!w(<nil>)";
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/create")))
        .respond_with(podman_error(500, misread, misread))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/create")))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"Id": "c0ffee", "Warnings": []})),
        )
        .mount(&server)
        .await;
    let created = engine_for(&server)
        .create_container(&full_spec())
        .await
        .unwrap();
    assert_eq!(created, "c0ffee");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.windows(2).all(|pair| pair[0].body == pair[1].body),
        "the same spec every time"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/create")))
        .respond_with(podman_error(500, misread, misread))
        .expect(4)
        .mount(&server)
        .await;
    let error = engine_for(&server)
        .create_container(&full_spec())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("create container: Podman answered HTTP 500: {misread}")
    );

    // Any other 500 is not tried again.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/create")))
        .respond_with(podman_error(500, "storage is broken", "boom"))
        .expect(1)
        .mount(&server)
        .await;
    engine_for(&server)
        .create_container(&full_spec())
        .await
        .unwrap_err();
}

fn container_inspection() -> Value {
    json!({
        "Id": "c0ffee",
        "Name": "horizonos-dev",
        "Image": IMAGE_ID,
        "ImageName": "localhost/horizonos/dev:3",
        "Created": "2026-11-25T10:00:00.5Z",
        "State": {
            "Status": "running", "Running": true, "Pid": 4242, "ExitCode": 0,
            "StartedAt": "2026-11-25T10:00:01Z", "FinishedAt": "0001-01-01T00:00:00Z"
        },
        "Config": {"Labels": {"io.horizonos.managed": "true"}},
        "Mounts": [
            {"Type": "bind", "Source": "/home/u", "Destination": "/home/u", "RW": true},
            {"Type": "volume", "Name": "v", "Source": "/var/lib/v", "Destination": "/v", "RW": true},
            {"Type": "bind", "Source": "/etc/hosts", "Destination": "/etc/hosts", "RW": false}
        ],
        "EffectiveCaps": ["CAP_KILL", "CAP_CHOWN"],
        "HostConfig": {
            "Privileged": false,
            "SecurityOpt": ["no-new-privileges", "seccomp=unconfined"],
            "NetworkMode": "slirp4netns",
            "UsernsMode": "keep-id"
        }
    })
}

#[tokio::test]
async fn inspect_container_skips_the_size_and_reads_state_mounts_and_security() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/containers/horizonos-dev/json")))
        .and(query_param_is_missing("size"))
        .respond_with(ResponseTemplate::new(200).set_body_json(container_inspection()))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        engine_for(&server)
            .inspect_container("horizonos-dev")
            .await
            .unwrap(),
        ContainerDetails {
            id: "c0ffee".into(),
            name: "horizonos-dev".into(),
            image_id: IMAGE_ID.into(),
            image_name: "localhost/horizonos/dev:3".into(),
            created: time("2026-11-25T10:00:00.5Z"),
            state: ContainerState {
                status: RunState::Running,
                running: true,
                pid: 4242,
                exit_code: 0,
                started_at: Some(time("2026-11-25T10:00:01Z")),
                // Podman's 0001-01-01T00:00:00Z: never.
                finished_at: None,
            },
            labels: BTreeMap::from([("io.horizonos.managed".into(), "true".into())]),
            mounts: vec![
                BindMount {
                    source: "/home/u".into(),
                    target: "/home/u".into(),
                    read_only: false,
                },
                BindMount {
                    source: "/etc/hosts".into(),
                    target: "/etc/hosts".into(),
                    read_only: true,
                },
            ],
            security: AppliedSecurity {
                effective_caps: vec!["CAP_CHOWN".into(), "CAP_KILL".into()],
                privileged: false,
                no_new_privileges: true,
                seccomp_profile: "unconfined".into(),
                network_mode: "slirp4netns".into(),
                userns_mode: "keep-id".into(),
                uid_map: Vec::new(),
            },
        }
    );
}

#[tokio::test]
async fn inspect_container_of_a_missing_container_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/containers/ghost/json")))
        .respond_with(podman_error(404, NO_SUCH_CONTAINER, "no such container"))
        .mount(&server)
        .await;
    assert_not_found(
        engine_for(&server).inspect_container("ghost").await,
        "inspect container",
        NO_SUCH_CONTAINER,
    );
}

/// `container_inspection()` with the field at JSON `pointer` removed.
fn inspection_without(pointer: &str) -> Value {
    let mut answer = container_inspection();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let removed = match answer.pointer_mut(parent).unwrap() {
        Value::Object(object) => object.remove(key),
        Value::Array(array) => Some(array.remove(key.parse().unwrap())),
        other => panic!("{parent} is {other}"),
    };
    assert!(removed.is_some(), "{pointer} is not in the fixture");
    answer
}

/// `container_inspection()` with `value` at JSON `pointer`.
fn inspection_with(pointer: &str, value: Value) -> Value {
    let mut answer = container_inspection();
    *answer.pointer_mut(pointer).unwrap() = value;
    answer
}

async fn inspect_answering(answer: Value) -> Result<ContainerDetails, EngineError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/containers/horizonos-dev/json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&server)
        .await;
    engine_for(&server).inspect_container("horizonos-dev").await
}

#[tokio::test]
async fn a_missing_field_of_a_container_inspection_is_named_never_defaulted() {
    // Read as a default, each would mislead: a missing Privileged as "not privileged", a missing
    // RW as "writable", a missing state or time as empty.
    let cases = [
        ("/HostConfig/Privileged", "HostConfig.Privileged"),
        ("/HostConfig/SecurityOpt", "HostConfig.SecurityOpt"),
        ("/HostConfig/NetworkMode", "HostConfig.NetworkMode"),
        ("/HostConfig/UsernsMode", "HostConfig.UsernsMode"),
        ("/HostConfig", "HostConfig"),
        ("/EffectiveCaps", "EffectiveCaps"),
        ("/Mounts/0/RW", "Mounts[0].RW"),
        ("/Mounts/2/RW", "Mounts[2].RW"),
        ("/Mounts/0/Source", "Mounts[0].Source"),
        ("/Mounts/2/Destination", "Mounts[2].Destination"),
        ("/Mounts/1/Type", "Mounts[1].Type"),
        ("/Mounts", "Mounts"),
        ("/State/Status", "State.Status"),
        ("/State/Running", "State.Running"),
        ("/State/StartedAt", "State.StartedAt"),
        ("/State/FinishedAt", "State.FinishedAt"),
        ("/State", "State"),
        ("/Created", "Created"),
        ("/Config/Labels", "Config.Labels"),
        ("/Id", "Id"),
    ];
    for (pointer, field) in cases {
        match inspect_answering(inspection_without(pointer)).await {
            Err(EngineError::MissingField {
                operation,
                field: got,
            }) => assert_eq!((operation, got.as_str()), ("inspect container", field)),
            other => panic!("without {pointer}: expected MissingField {field}, got {other:?}"),
        }
    }
    // `null` is missing too where a value belongs.
    let error = inspect_answering(inspection_with("/HostConfig/Privileged", Value::Null))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "inspect container: Podman's answer has no HostConfig.Privileged"
    );
}

#[tokio::test]
async fn an_unreadable_field_of_a_container_inspection_is_named_with_its_value() {
    let cases = [
        (
            "/State/Status",
            json!("zombie"),
            "State.Status",
            "not a container state of Podman 4 (created, initialized, running, paused, stopping, \
             stopped, exited, removing, unknown)",
        ),
        (
            "/State/StartedAt",
            json!("2026-11-25T25:00:00Z"),
            "State.StartedAt",
            "not an RFC 3339 time (input is out of range)",
        ),
        (
            "/Created",
            json!("2026-11-25T10:00:00"),
            "Created",
            "not an RFC 3339 time (premature end of input)",
        ),
        (
            "/Mounts/0/RW",
            json!("yes"),
            "Mounts[0].RW",
            "invalid type: string \"yes\", expected a boolean",
        ),
        (
            "/HostConfig/Privileged",
            json!(0),
            "HostConfig.Privileged",
            "invalid type: integer `0`, expected a boolean",
        ),
    ];
    for (pointer, value, field, reason) in cases {
        let quoted = value.to_string();
        match inspect_answering(inspection_with(pointer, value)).await {
            Err(EngineError::InvalidField {
                operation,
                field: got_field,
                value: got_value,
                reason: got_reason,
            }) => assert_eq!(
                (operation, got_field.as_str(), &*got_value, &*got_reason),
                ("inspect container", field, quoted.as_str(), reason)
            ),
            other => panic!("{pointer}: expected InvalidField {field}, got {other:?}"),
        }
    }
    let error = inspect_answering(inspection_with("/State/Status", json!("zombie")))
        .await
        .unwrap_err();
    assert!(
        error.to_string().starts_with(
            "inspect container: Podman's answer has an unreadable State.Status (\"zombie\"): \
             not a container state of Podman 4 ("
        ),
        "{error}"
    );
}

#[tokio::test]
async fn go_nulls_are_empty_lists_and_podman_never_is_no_time() {
    // Go writes an empty slice or map as null; IDMappings is omitted without a user namespace.
    let mut answer = container_inspection();
    answer["Mounts"] = Value::Null;
    answer["EffectiveCaps"] = Value::Null;
    answer["HostConfig"]["SecurityOpt"] = Value::Null;
    answer["Config"]["Labels"] = Value::Null;
    answer["State"]["StartedAt"] = json!("0001-01-01T00:00:00Z");
    let details = inspect_answering(answer).await.unwrap();
    assert_eq!(
        (
            details.mounts,
            details.security.effective_caps,
            details.security.no_new_privileges,
            details.labels,
            details.state.started_at,
        ),
        (Vec::new(), Vec::new(), false, BTreeMap::new(), None)
    );
    let mut answer = container_inspection();
    answer["HostConfig"]["IDMappings"] =
        json!({"UidMap": ["0:1:1000", "1000:0:1"], "GidMap": ["0:1:1000"]});
    let details = inspect_answering(answer).await.unwrap();
    assert_eq!(details.security.uid_map, ["0:1:1000", "1000:0:1"]);
}

#[tokio::test]
async fn start_goes_through_podman_api_and_maps_304_to_already_running() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{PODMAN_API}/containers/horizonos-dev/start")))
        .respond_with(ResponseTemplate::new(204))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{PODMAN_API}/containers/horizonos-dev/start")))
        // Podman's "already running": a 304 with an empty body.
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&server)
        .await;
    let engine = engine_for(&server);
    assert_eq!(
        engine.start_container("horizonos-dev").await.unwrap(),
        StateChange::Changed
    );
    assert_eq!(
        engine.start_container("horizonos-dev").await.unwrap(),
        StateChange::AlreadyInState
    );
}

#[tokio::test]
async fn start_maps_not_found_and_other_statuses_with_podmans_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{PODMAN_API}/containers/ghost/start")))
        .respond_with(podman_error(404, NO_SUCH_CONTAINER, "no such container"))
        .mount(&server)
        .await;
    let failed = "runc: runc create failed: unable to start container process: exec: \"sleep\": executable file not found in $PATH: OCI runtime attempted to invoke a command that was not found";
    Mock::given(method("POST"))
        .and(path(format!("{PODMAN_API}/containers/broken/start")))
        .respond_with(podman_error(
            500,
            failed,
            "OCI runtime attempted to invoke a command that was not found",
        ))
        .mount(&server)
        .await;
    let engine = engine_for(&server);
    assert_not_found(
        engine.start_container("ghost").await,
        "start container",
        NO_SUCH_CONTAINER,
    );
    assert_api(
        engine.start_container("broken").await,
        "start container",
        500,
        failed,
    );
}

#[tokio::test]
async fn stop_passes_the_timeout_itself_and_maps_304_to_already_stopped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/horizonos-dev/stop")))
        .and(query_param("timeout", "7"))
        .respond_with(ResponseTemplate::new(204))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/horizonos-dev/stop")))
        .and(query_param("timeout", "7"))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/ghost/stop")))
        .respond_with(podman_error(404, NO_SUCH_CONTAINER, "no such container"))
        .mount(&server)
        .await;
    let engine = engine_for(&server);
    let timeout = Duration::from_secs(7);
    assert_eq!(
        engine
            .stop_container("horizonos-dev", timeout)
            .await
            .unwrap(),
        StateChange::Changed
    );
    assert_eq!(
        engine
            .stop_container("horizonos-dev", timeout)
            .await
            .unwrap(),
        StateChange::AlreadyInState
    );
    assert_not_found(
        engine.stop_container("ghost", timeout).await,
        "stop container",
        NO_SUCH_CONTAINER,
    );
}

#[tokio::test]
async fn remove_container_goes_through_podman_api_with_force_and_volumes() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{PODMAN_API}/containers/horizonos-dev")))
        .and(query_param("force", "true"))
        .and(query_param("v", "true"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"Id": "c0ffee", "Err": null}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let running = "cannot remove container c0ffee as it is running - running or paused containers cannot be removed without force: container state improper";
    Mock::given(method("DELETE"))
        .and(path(format!("{PODMAN_API}/containers/horizonos-dev")))
        .and(query_param("force", "false"))
        .respond_with(podman_error(500, running, "container state improper"))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{PODMAN_API}/containers/ghost")))
        .respond_with(podman_error(404, NO_SUCH_CONTAINER, "no such container"))
        .mount(&server)
        .await;
    let engine = engine_for(&server);
    engine
        .remove_container("horizonos-dev", true)
        .await
        .unwrap();
    assert_api(
        engine.remove_container("horizonos-dev", false).await,
        "remove container",
        500,
        running,
    );
    assert_not_found(
        engine.remove_container("ghost", true).await,
        "remove container",
        NO_SUCH_CONTAINER,
    );
}

#[tokio::test]
async fn rename_uses_the_compat_endpoint_and_maps_a_taken_name_to_conflict() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{COMPAT}/containers/horizonos-dev/rename")))
        .and(query_param("name", "horizonos-dev-previous"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let taken = "name \"horizonos-dev-previous\" is in use: container already exists";
    Mock::given(method("POST"))
        .and(path(format!("{COMPAT}/containers/other/rename")))
        .respond_with(podman_error(409, taken, "container already exists"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{COMPAT}/containers/ghost/rename")))
        .respond_with(podman_error(404, NO_SUCH_CONTAINER, "no such container"))
        .mount(&server)
        .await;
    let engine = engine_for(&server);
    engine
        .rename_container("horizonos-dev", "horizonos-dev-previous")
        .await
        .unwrap();
    assert_conflict(
        engine
            .rename_container("other", "horizonos-dev-previous")
            .await,
        "rename container",
        taken,
    );
    assert_not_found(
        engine.rename_container("ghost", "x").await,
        "rename container",
        NO_SUCH_CONTAINER,
    );
}

#[tokio::test]
async fn list_containers_asks_for_all_of_them_filtered_by_label_in_one_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{PODMAN_API}/containers/json")))
        .and(query_param("all", "true"))
        .and(query_param(
            "filters",
            r#"{"label":["io.horizonos.managed=true","io.horizonos.definition"]}"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {
                "Id": "c0ffee", "Names": ["horizonos-dev"], "Image": "localhost/horizonos/dev:3",
                "State": "running", "Labels": {"io.horizonos.managed": "true"},
                "Created": "2026-11-25T10:00:00Z", "AutoRemove": false, "Command": ["sleep"],
                "Exited": false, "ExitCode": 0, "ExitedAt": 0, "ImageID": IMAGE_ID,
                "IsInfra": false, "Mounts": [], "Namespaces": {}, "Networks": [], "Pid": 1,
                "Pod": "", "PodName": "", "Ports": null, "Size": null, "StartedAt": 0, "Status": ""
            }
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let filter = LabelFilter::managed().with("io.horizonos.definition", None);
    assert_eq!(
        engine_for(&server).list_containers(&filter).await.unwrap(),
        [ContainerSummary {
            id: "c0ffee".into(),
            name: "horizonos-dev".into(),
            image: "localhost/horizonos/dev:3".into(),
            image_id: IMAGE_ID.into(),
            state: RunState::Running,
            labels: BTreeMap::from([("io.horizonos.managed".into(), "true".into())]),
        }]
    );
}

#[tokio::test]
async fn list_containers_names_an_unknown_state_word_and_a_missing_field() {
    let listed = |container: Value| async move {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(format!("{PODMAN_API}/containers/json")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                {"Id": "c0ffee", "Names": ["horizonos-dev"], "Image": "i", "ImageID": IMAGE_ID,
                 "State": "running", "Labels": null},
                container
            ])))
            .mount(&server)
            .await;
        engine_for(&server)
            .list_containers(&LabelFilter::managed())
            .await
    };
    let error = listed(
        json!({"Id": "b", "Names": ["x"], "Image": "i", "ImageID": "j",
                              "State": "hibernating"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "list containers: Podman's answer has an unreadable [1].State (\"hibernating\"): not a \
         container state of Podman 4 (created, initialized, running, paused, stopping, stopped, \
         exited, removing, unknown)"
    );
    match listed(json!({"Id": "b", "Names": ["x"], "Image": "i", "ImageID": "j"})).await {
        Err(EngineError::MissingField { operation, field }) => {
            assert_eq!(
                (operation, field.as_str()),
                ("list containers", "[1].State")
            );
        }
        other => panic!("expected MissingField, got {other:?}"),
    }
}

#[tokio::test]
async fn list_containers_maps_an_error_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{PODMAN_API}/containers/json")))
        // An error Podman did not wrap: its cause is the message itself.
        .respond_with(podman_error(
            500,
            "invalid filter \"label\"",
            "invalid filter \"label\"",
        ))
        .mount(&server)
        .await;
    assert_api(
        engine_for(&server)
            .list_containers(&LabelFilter::managed())
            .await,
        "list containers",
        500,
        "invalid filter \"label\"",
    );
}

#[tokio::test]
async fn prune_containers_filters_by_label() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/prune")))
        .and(query_param(
            "filters",
            r#"{"label":["io.horizonos.managed=true"]}"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"Id": "dead1", "Size": 10}, {"Id": "dead2", "Size": 5, "Err": ""}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        engine_for(&server)
            .prune_containers(&LabelFilter::managed())
            .await
            .unwrap(),
        PruneReport {
            removed: vec!["dead1".into(), "dead2".into()],
            reclaimed_bytes: 15,
        }
    );
}

#[tokio::test]
async fn commit_sends_labels_as_changes_without_pausing_and_returns_the_new_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/commit")))
        .and(query_param("container", "horizonos-dev-build"))
        .and(query_param("repo", "localhost/horizonos/dev"))
        .and(query_param("tag", "3"))
        .and(query_param("pause", "false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"Id": IMAGE_ID})))
        .expect(1)
        .mount(&server)
        .await;
    let labels = BTreeMap::from([
        ("io.horizonos.generation".to_owned(), "3".to_owned()),
        ("io.horizonos.managed".to_owned(), "true".to_owned()),
    ]);
    let id = engine_for(&server)
        .commit_container(
            "horizonos-dev-build",
            "localhost/horizonos/dev",
            "3",
            &labels,
        )
        .await
        .unwrap();
    assert_eq!(id, IMAGE_ID);
    let requests = server.received_requests().await.unwrap();
    let changes: Vec<String> = requests[0]
        .url
        .query_pairs()
        .filter(|(key, _)| key == "changes")
        .map(|(_, value)| value.into_owned())
        .collect();
    assert_eq!(
        changes,
        [
            "LABEL io.horizonos.generation=3",
            "LABEL io.horizonos.managed=true"
        ]
    );
}

#[tokio::test]
async fn commit_of_a_missing_container_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/commit")))
        .respond_with(podman_error(404, NO_SUCH_CONTAINER, "no such container"))
        .mount(&server)
        .await;
    assert_not_found(
        engine_for(&server)
            .commit_container("ghost", "localhost/horizonos/dev", "3", &BTreeMap::new())
            .await,
        "commit container",
        NO_SUCH_CONTAINER,
    );
}

// ---------------------------------------------------------------------------------------------
// exec and logs

fn exec_request() -> ExecRequest {
    ExecRequest {
        tty: false,
        argv: vec!["git".into(), "status".into(), "a b".into()],
        env: BTreeMap::from([("TERM".into(), "xterm".into())]),
        working_dir: Some("/home/u/src".into()),
        user: Some("1000".into()),
    }
}

#[tokio::test]
async fn exec_creates_the_session_with_the_argv_as_an_array_and_maps_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/ghost/exec")))
        .and(body_json(json!({
            "AttachStdin": false,
            "AttachStdout": true,
            "AttachStderr": true,
            "Tty": false,
            "Cmd": ["git", "status", "a b"],
            "Env": ["TERM=xterm"],
            "WorkingDir": "/home/u/src",
            "User": "1000"
        })))
        .respond_with(podman_error(404, NO_SUCH_CONTAINER, "no such container"))
        .expect(1)
        .mount(&server)
        .await;
    let stopped = "can only create exec sessions on running containers: container state improper";
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/stopped/exec")))
        .respond_with(podman_error(500, stopped, "container state improper"))
        .mount(&server)
        .await;
    let engine = engine_for(&server);
    assert_not_found(
        engine.exec("ghost", &exec_request()).await,
        "create exec",
        NO_SUCH_CONTAINER,
    );
    assert_api(
        engine.exec("stopped", &exec_request()).await,
        "create exec",
        500,
        stopped,
    );
}

#[tokio::test]
async fn exec_start_that_is_not_upgraded_maps_the_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/containers/horizonos-dev/exec")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"Id": "e1"})))
        .expect(1)
        .mount(&server)
        .await;
    let gone = "container c0ffee is not running: container state improper";
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/exec/e1/start")))
        .and(body_json(json!({"Detach": false, "Tty": false})))
        .respond_with(podman_error(409, gone, "container state improper"))
        .expect(1)
        .mount(&server)
        .await;
    assert_conflict(
        engine_for(&server)
            .exec("horizonos-dev", &exec_request())
            .await,
        "start exec",
        gone,
    );
}

/// One frame of Podman's multiplexed stream.
fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![stream, 0, 0, 0];
    bytes.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

async fn logs_of(
    engine: &horizon_core::engine::PodmanEngine,
    container: &str,
    tail: Option<u64>,
) -> (Result<(), EngineError>, Vec<u8>, Vec<u8>) {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let result = engine
        .logs(
            container,
            false,
            tail,
            ExecStreams {
                stdin: None,
                stdout: &mut stdout,
                stderr: &mut stderr,
                resize: None,
                signals: None,
            },
        )
        .await;
    (result, stdout, stderr)
}

#[tokio::test]
async fn logs_demultiplex_stdout_and_stderr_byte_exact() {
    let server = MockServer::start().await;
    let mut body = frame(1, b"hello\n");
    body.extend(frame(2, b"warn\xff\n"));
    body.extend(frame(1, b"bye\n"));
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/containers/horizonos-dev/logs")))
        .and(query_param("follow", "false"))
        .and(query_param("stdout", "true"))
        .and(query_param("stderr", "true"))
        .and(query_param("tail", "5"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
        .expect(1)
        .mount(&server)
        .await;
    let (result, stdout, stderr) = logs_of(&engine_for(&server), "horizonos-dev", Some(5)).await;
    result.unwrap();
    assert_eq!(stdout, b"hello\nbye\n");
    assert_eq!(stderr, b"warn\xff\n");
}

#[tokio::test]
async fn logs_of_a_missing_container_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/containers/ghost/logs")))
        .and(query_param_is_missing("tail"))
        .respond_with(podman_error(404, NO_SUCH_CONTAINER, "no such container"))
        .mount(&server)
        .await;
    let (result, stdout, stderr) = logs_of(&engine_for(&server), "ghost", None).await;
    assert_not_found(result, "container logs", NO_SUCH_CONTAINER);
    assert!(stdout.is_empty() && stderr.is_empty());
}

#[tokio::test]
async fn logs_cut_in_the_middle_of_a_frame_are_truncated() {
    let server = MockServer::start().await;
    let mut body = frame(1, b"complete\n");
    body.extend(&frame(1, b"cut short")[..10]);
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/containers/horizonos-dev/logs")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
        .mount(&server)
        .await;
    let (result, stdout, _) = logs_of(&engine_for(&server), "horizonos-dev", None).await;
    match result {
        Err(EngineError::StreamTruncated { operation }) => assert_eq!(operation, "container logs"),
        other => panic!("expected StreamTruncated, got {other:?}"),
    }
    assert_eq!(stdout, b"complete\n");
}

// ---------------------------------------------------------------------------------------------
// timeouts and unreachable services

#[tokio::test]
async fn a_raw_request_slower_than_the_request_timeout_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{LIBPOD}/containers/horizonos-dev/json")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(container_inspection())
                .set_delay(TOO_SLOW),
        )
        .mount(&server)
        .await;
    let started = Instant::now();
    let result = engine_for(&server).inspect_container("horizonos-dev").await;
    assert_timeout(result, "inspect container", started);
}

#[tokio::test]
async fn a_podman_api_request_slower_than_the_request_timeout_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{PODMAN_API}/containers/horizonos-dev/start")))
        .respond_with(ResponseTemplate::new(204).set_delay(TOO_SLOW))
        .mount(&server)
        .await;
    let started = Instant::now();
    let result = engine_for(&server).start_container("horizonos-dev").await;
    assert_timeout(result, "start container", started);
}

#[tokio::test]
async fn a_long_request_slower_than_its_limit_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{LIBPOD}/commit")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"Id": "x"}))
                .set_delay(TOO_SLOW),
        )
        .mount(&server)
        .await;
    let started = Instant::now();
    let result = engine_for(&server)
        .commit_container("c", "r", "t", &BTreeMap::new())
        .await;
    assert_timeout(result, "commit container", started);
}

/// An HTTP server that answers every request with a chunked 200 whose first chunk is `first`, then
/// sends nothing more while keeping the connection open: a stream that stalls.
async fn stalling_server(first: &'static [u8]) -> Endpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let mut answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                answer.extend(format!("{:x}\r\n", first.len()).into_bytes());
                answer.extend_from_slice(first);
                answer.extend_from_slice(b"\r\n");
                if socket.write_all(&answer).await.is_err() {
                    return;
                }
                // Hold the connection open, silent, far past the no-progress limit.
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    Endpoint::Tcp {
        host: "127.0.0.1".into(),
        port,
    }
}

#[tokio::test]
async fn a_pull_stream_that_stalls_times_out_after_the_no_progress_limit() {
    let endpoint = stalling_server(
        b"{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":9},\"id\":\"a1\"}\n",
    )
    .await;
    let engine = horizon_core::engine::PodmanEngine::with_timeouts(&endpoint, TIMEOUTS);
    let events = Mutex::new(Vec::new());
    let record = |event: &PullEvent| events.lock().unwrap().push(event.status.clone());
    let started = Instant::now();
    let result = engine.pull_image(IMAGE, &record).await;
    assert_timeout(result, "pull image", started);
    assert_eq!(events.into_inner().unwrap(), ["Downloading"]);
}

#[tokio::test]
async fn a_logs_stream_that_stalls_times_out_after_the_no_progress_limit() {
    let endpoint = stalling_server(b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n").await;
    let engine = horizon_core::engine::PodmanEngine::with_timeouts(&endpoint, TIMEOUTS);
    let started = Instant::now();
    let (result, stdout, _) = logs_of(&engine, "horizonos-dev", None).await;
    assert_timeout(result, "container logs", started);
    assert_eq!(stdout, b"hi\n");
}

/// A loopback port nothing listens on (bound, then released).
async fn closed_port() -> Endpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    Endpoint::Tcp {
        host: "127.0.0.1".into(),
        port,
    }
}

#[tokio::test]
async fn nothing_listening_is_unreachable_for_raw_and_podman_api_calls() {
    let endpoint = closed_port().await;
    let engine = horizon_core::engine::PodmanEngine::with_timeouts(&endpoint, TIMEOUTS);
    let expected_endpoint = endpoint.to_string();
    let check = |result: Result<(), EngineError>, call: &str| match result {
        Err(EngineError::Unreachable { endpoint, reason }) => {
            assert_eq!(endpoint, expected_endpoint, "{call}");
            assert!(reason.contains("onnection refused"), "{call}: {reason}");
        }
        other => panic!("expected Unreachable from {call}, got {other:?}"),
    };
    check(engine.ping().await, "ping");
    check(engine.info().await.map(drop), "info");
    check(
        engine.start_container("horizonos-dev").await.map(drop),
        "start (podman-api)",
    );
    check(
        engine
            .list_containers(&LabelFilter::managed())
            .await
            .map(drop),
        "list (podman-api)",
    );
    check(
        engine.pull_image(IMAGE, &|_| {}).await.map(drop),
        "pull (compat)",
    );
}

#[tokio::test]
async fn the_timeout_message_names_the_operation_and_the_limit() {
    let error = EngineError::Timeout {
        operation: "pull image",
        after: Duration::from_millis(700),
    };
    assert_eq!(
        error.to_string(),
        "pull image: no answer from Podman within 700ms"
    );
    let error = EngineError::Timeout {
        operation: "ping",
        after: Duration::from_secs(30),
    };
    assert_eq!(error.to_string(), "ping: no answer from Podman within 30s");
}

// ---------------------------------------------------------------------------------------------
// the attached exec stream (a scripted server: wiremock cannot answer with a protocol upgrade)

/// What the scripted server answers to one request.
enum Scripted {
    /// A JSON answer, then the connection closes.
    Json(u16, Value),
    /// `101 UPGRADED`, then these raw bytes down the hijacked connection, then it closes.
    Upgrade(Vec<u8>),
}

/// One request the scripted server received.
#[derive(Clone, Debug, PartialEq)]
struct Received {
    method: String,
    path: String,
    body: Value,
}

/// A one-request-per-connection HTTP server that answers from `script(method, path)` and records
/// every request, for the exec endpoints (create, start with its hijack, inspect).
async fn scripted_server(
    script: impl Fn(&str, &str) -> Scripted + Send + Sync + 'static,
) -> (Endpoint, Arc<Mutex<Vec<Received>>>) {
    let script = Arc::new(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            let script = script.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 8192];
                let header_end = loop {
                    if let Some(end) = request.windows(4).position(|window| window == b"\r\n\r\n") {
                        break end + 4;
                    }
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                };
                let head = String::from_utf8_lossy(&request[..header_end]).into_owned();
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while request.len() < header_end + length {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let mut words = head.split_whitespace();
                let method = words.next().unwrap_or_default().to_owned();
                let path = words.next().unwrap_or_default().to_owned();
                let body = serde_json::from_slice(&request[header_end..header_end + length])
                    .unwrap_or(Value::Null);
                log.lock().unwrap().push(Received {
                    method: method.clone(),
                    path: path.clone(),
                    body,
                });
                let answer = match script(&method, &path) {
                    Scripted::Json(status, value) => {
                        let body = value.to_string();
                        format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .into_bytes()
                    }
                    Scripted::Upgrade(bytes) => {
                        let mut answer = b"HTTP/1.1 101 UPGRADED\r\ncontent-type: application/vnd.docker.multiplexed-stream\r\nconnection: Upgrade\r\nupgrade: tcp\r\n\r\n".to_vec();
                        answer.extend(bytes);
                        answer
                    }
                };
                // The client may already be gone; the test asserts on what it saw.
                if socket.write_all(&answer).await.is_ok() {
                    let _ = socket.shutdown().await;
                }
            });
        }
    });
    (
        Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port,
        },
        received,
    )
}

/// Create → `e1`, start → the stream, inspect → exited with status 7.
fn exec_script(stream: Vec<u8>) -> impl Fn(&str, &str) -> Scripted + Send + Sync + 'static {
    move |method, path| match (method, path) {
        ("POST", "/v4.0.0/libpod/containers/horizonos-dev/exec") => {
            Scripted::Json(201, json!({"Id": "e1"}))
        }
        ("POST", "/v4.0.0/libpod/exec/e1/start") => Scripted::Upgrade(stream.clone()),
        ("GET", "/v4.0.0/libpod/exec/e1/json") => {
            Scripted::Json(200, json!({"Running": false, "ExitCode": 7, "Pid": 0}))
        }
        _ => Scripted::Json(
            404,
            json!({"message": format!("unexpected {method} {path}")}),
        ),
    }
}

async fn exec_over(stream: Vec<u8>) -> (Result<ExecOutput, EngineError>, Vec<Received>) {
    let (endpoint, received) = scripted_server(exec_script(stream)).await;
    let engine = horizon_core::engine::PodmanEngine::with_timeouts(&endpoint, TIMEOUTS);
    let result = engine.exec("horizonos-dev", &exec_request()).await;
    let received = received.lock().unwrap().clone();
    (result, received)
}

#[tokio::test]
async fn exec_streams_stdout_and_stderr_apart_and_returns_the_exit_code() {
    let mut stream = frame(1, b"out\n");
    stream.extend(frame(2, b"err\xff\n"));
    stream.extend(frame(1, b"more"));
    let (result, received) = exec_over(stream).await;
    assert_eq!(
        result.unwrap(),
        ExecOutput {
            exit_code: 7,
            stdout: b"out\nmore".to_vec(),
            stderr: b"err\xff\n".to_vec(),
        }
    );
    let request = |method: &str, path: &str, body: Value| Received {
        method: method.into(),
        path: path.into(),
        body,
    };
    assert_eq!(
        received,
        [
            request(
                "POST",
                "/v4.0.0/libpod/containers/horizonos-dev/exec",
                json!({
                    "AttachStdin": false, "AttachStdout": true, "AttachStderr": true,
                    "Tty": false, "Cmd": ["git", "status", "a b"], "Env": ["TERM=xterm"],
                    "WorkingDir": "/home/u/src", "User": "1000"
                })
            ),
            request(
                "POST",
                "/v4.0.0/libpod/exec/e1/start",
                json!({"Detach": false, "Tty": false})
            ),
            request("GET", "/v4.0.0/libpod/exec/e1/json", Value::Null),
        ]
    );
}

#[tokio::test]
async fn exec_whose_stream_carries_podmans_error_is_a_stream_error() {
    let mut stream = frame(1, b"partial\n");
    stream.extend(frame(3, b"exec failed: container stopped\n"));
    match exec_over(stream).await.0 {
        Err(EngineError::StreamError { operation, message }) => {
            assert_eq!(operation, "exec");
            assert_eq!(message, "exec failed: container stopped");
        }
        other => panic!("expected StreamError, got {other:?}"),
    }
}

#[tokio::test]
async fn exec_whose_stream_is_cut_mid_frame_is_truncated() {
    let mut stream = frame(1, b"whole\n");
    stream.extend(&frame(1, b"cut short")[..9]);
    match exec_over(stream).await.0 {
        Err(EngineError::StreamTruncated { operation }) => assert_eq!(operation, "exec"),
        other => panic!("expected StreamTruncated, got {other:?}"),
    }
}
