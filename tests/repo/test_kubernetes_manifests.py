"""The Kubernetes manifests in deploy/kubernetes/ are valid API objects and stay hardened.

Every document is validated in strict mode (unknown fields fail) against the JSON
schemas that `kubernetes-validate` bundles, offline. On top of the schema: every
container runs as non-root on a read-only root filesystem with no capabilities and
with resources set; the runner reads the database URL from a mounted Secret file; the
Job fails at once on the exit codes that retrying cannot fix. The negative tests break
a loaded manifest and show that each check catches it.

Each kustomization is rendered with `kubectl kustomize`, as `kubectl apply -k`
would apply it: what it renders passes the same checks, holds no Secret, and
names each release's Job after the release.
"""

from __future__ import annotations

import copy
import re
import shutil
import socket
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from migrator import __version__
from migrator.errors import ExitStatus
from migrator.settings.declarations import declarations
from migrator.settings.targets import declared_names
from tests.support.kubernetes import kustomize
from tests.support.project import PROJECT_ROOT

MANIFEST_DIR = PROJECT_ROOT / "deploy" / "kubernetes"
DEPLOYMENT = MANIFEST_DIR / "init-container" / "deployment.yaml"
JOB = MANIFEST_DIR / "job" / "job.yaml"
INDEXED_JOB = MANIFEST_DIR / "sharded" / "indexed-job.yaml"
SECRETS = MANIFEST_DIR / "secret.example.yaml"
KUSTOMIZATION = "kustomization.yaml"
MANIFESTS = sorted(path for path in MANIFEST_DIR.rglob("*.yaml") if path.name != KUSTOMIZATION)
KUSTOMIZATIONS = sorted(path.parent for path in MANIFEST_DIR.rglob(KUSTOMIZATION))
# A Job per release: the Job examples' kustomizations name it after the release.
RELEASED_JOBS = [JOB.parent, INDEXED_JOB.parent]
# The newest Kubernetes version whose schemas kubernetes-validate bundles.
KUBERNETES_VERSION = "1.37"

RUNNER_IMAGE = "migrator"
RUNNER_UID = 10001
SECRET_URL_SETTING = "DATABASE_URL_FILE"
# Who runs, from the downward API: recorded in the run marker and the logs.
DOWNWARD_API_ENV = {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
# A named target's variables (see migrator.settings.targets), for the names MIGRATE_TARGETS lists.
TARGET_VARIABLES = [
    "DATABASE_URL_{}",
    "DATABASE_URL_{}_FILE",
    "DATABASE_URL_{}_TEMPLATE",
    "DATABASE_URL_{}_SHARDS",
    "MIGRATE_MIGRATIONS_DIR_{}",
    "MIGRATE_SCHEMA_{}",
]
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# Retrying cannot fix these: the Job must fail at once.
FAIL_AT_ONCE = [
    ExitStatus.CONFIG_ERROR,
    ExitStatus.ACCESS_DENIED,
    ExitStatus.MIGRATION_FAILED,
    ExitStatus.UNKNOWN_REVISION,
    ExitStatus.SCRIPT_ERROR,
    ExitStatus.BLOCKING_DDL_REFUSED,
]
# These can clear up by themselves: the Job must retry them.
RETRIED = [ExitStatus.DATABASE_UNREACHABLE, ExitStatus.LOCK_TIMEOUT]

Document = dict[str, Any]
Check = Callable[[Document], list[str]]


def load(path: Path) -> list[Document]:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert all(isinstance(doc, dict) for doc in documents), path
    return documents


def all_documents() -> list[tuple[str, int, Document]]:
    return [
        (relative(path), index, document)
        for path in MANIFESTS
        for index, document in enumerate(load(path))
    ]


def relative(path: Path) -> str:
    return str(path.relative_to(MANIFEST_DIR))


def name_suffix(version: str) -> str:
    """A release as the Job name's suffix: a DNS label, so dots become dashes."""
    return "-" + version.replace(".", "-")


def document_of_kind(kind: str) -> Document:
    """The example of ``kind``: the Deployment, a Job, the database-URL Secret."""
    examples = {"Deployment": DEPLOYMENT, "Job": JOB, "IndexedJob": INDEXED_JOB, "Secret": SECRETS}
    return load(examples[kind])[0]


def pod_spec(document: Document) -> Document | None:
    """The pod template's spec of a workload, None for anything that runs no pod."""
    template = document.get("spec", {}).get("template")
    return None if template is None else template["spec"]


def containers(pod: Document) -> list[Document]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def is_runner(container: Document) -> bool:
    return str(container["image"]).split(":")[0].split("/")[-1] == RUNNER_IMAGE


def runner_containers(document: Document) -> list[Document]:
    pod = pod_spec(document)
    return [] if pod is None else [c for c in containers(pod) if is_runner(c)]


# --- The checks: each returns what is wrong, so that a test can show it catches it. ---


def schema_problems(document: Document) -> list[str]:
    try:
        version = kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return [f"schema: {path}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"schema: {error.message}"]
    if version != KUBERNETES_VERSION:
        return [f"schema: validated against {version}, not {KUBERNETES_VERSION}"]
    return []


def security_problems(document: Document) -> list[str]:
    pod = pod_spec(document)
    if pod is None:
        return []
    problems = []
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("pod: automountServiceAccountToken is not false")
    if pod.get("securityContext", {}).get("runAsNonRoot") is not True:
        problems.append("pod: securityContext.runAsNonRoot is not true")
    pod_seccomp = pod.get("securityContext", {}).get("seccompProfile", {})
    for container in containers(pod):
        problems += container_security_problems(container, pod_seccomp)
    return problems


def container_security_problems(container: Document, pod_seccomp: Document) -> list[str]:
    name = container["name"]
    context = container.get("securityContext", {})
    expected: dict[str, object] = {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
    }
    if is_runner(container):
        expected |= {"runAsUser": RUNNER_UID, "runAsGroup": RUNNER_UID}
    problems = [
        f"{name}: securityContext.{field} is {context.get(field)!r}, not {value!r}"
        for field, value in expected.items()
        if context.get(field) != value or type(context.get(field)) is not type(value)
    ]
    if context.get("privileged"):
        problems.append(f"{name}: securityContext.privileged is set")
    capabilities = context.get("capabilities", {})
    if capabilities.get("drop") != ["ALL"] or capabilities.get("add"):
        problems.append(f"{name}: securityContext.capabilities do not drop ['ALL'] alone")
    seccomp = context.get("seccompProfile") or pod_seccomp
    if seccomp.get("type") not in {"RuntimeDefault", "Localhost"}:
        problems.append(f"{name}: seccompProfile is not RuntimeDefault or Localhost")
    resources = container.get("resources", {})
    problems += [
        f"{name}: resources.{kind}.{resource} is not set"
        for kind in ("requests", "limits")
        for resource in ("cpu", "memory")
        if not resources.get(kind, {}).get(resource)
    ]
    return problems


def runner_problems(document: Document) -> list[str]:
    """The runner: its settings exist, the URL comes from a Secret file, no literal secret."""
    pod = pod_spec(document)
    if pod is None:
        return []
    settings = {declared.variable for declared in declarations()}
    secret_volumes = {v["name"]: v["secret"] for v in pod.get("volumes", []) if "secret" in v}
    problems = []
    for container in containers(pod):
        name = container["name"]
        env = container.get("env", [])
        for variable in env:
            literal = str(variable.get("value", ""))
            if re.search(r"://[^/@\s]*:[^/@\s]+@", literal):
                problems.append(f"{name}: env {variable['name']} holds a URL with a password")
            if variable["name"] in {"DATABASE_URL", "MYSQL_PASSWORD"} and "value" in variable:
                problems.append(f"{name}: env {variable['name']} has a literal value")
        if not is_runner(container):
            continue
        by_name = {variable["name"]: variable for variable in env}
        targets = [
            name.upper() for name in declared_names(by_name.get("MIGRATE_TARGETS", {}).get("value"))
        ]
        known = settings | {form.format(name) for name in targets for form in TARGET_VARIABLES}
        problems += [
            f"{name}: env {variable['name']} is not a runner setting"
            for variable in env
            if variable["name"] not in known
        ]
        problems += [
            f"{name}: env {variable} is not the downward API's {field}"
            for variable, field in DOWNWARD_API_ENV.items()
            if by_name.get(variable, {}).get("valueFrom") != {"fieldRef": {"fieldPath": field}}
        ]
        if "DATABASE_URL" in by_name or "MYSQL_PASSWORD" in by_name:
            problems.append(f"{name}: the password is in the environment, not in a file")
        if container.get("terminationMessagePolicy") != "FallbackToLogsOnError":
            problems.append(f"{name}: terminationMessagePolicy is not FallbackToLogsOnError")
        url_settings = [SECRET_URL_SETTING, *(f"DATABASE_URL_{target}_FILE" for target in targets)]
        url_files = {
            setting: by_name[setting].get("value") for setting in url_settings if setting in by_name
        }
        if not url_files or None in url_files.values():
            problems.append(f"{name}: {' or '.join(url_settings)} is not set to a path")
            continue
        for setting, url_file in url_files.items():
            problems += secret_file_problems(
                name, setting, PurePosixPath(url_file), container, secret_volumes
            )
    return problems


def secret_file_problems(
    name: str,
    setting: str,
    path: PurePosixPath,
    container: Document,
    secret_volumes: dict[str, Document],
) -> list[str]:
    """`path` is a key of a Secret volume mounted read-only in `container`."""
    mounts = [
        mount
        for mount in container.get("volumeMounts", [])
        if mount["name"] in secret_volumes and path.is_relative_to(mount["mountPath"])
    ]
    if not mounts:
        return [f"{name}: {setting}={path} is not in a mounted Secret volume"]
    (mount,) = mounts
    problems = []
    if mount.get("subPath"):
        problems.append(f"{name}: the Secret is mounted with subPath (it is never updated)")
    if mount.get("readOnly") is not True:
        problems.append(f"{name}: the Secret volume is not mounted readOnly")
    volume = secret_volumes[mount["name"]]
    relative = str(path.relative_to(mount["mountPath"]))
    items = volume.get("items") or [{"key": key, "path": key} for key in secret_keys(volume)]
    keys = [item["key"] for item in items if item["path"] == relative]
    if not keys:
        problems.append(f"{name}: {path} is not a file of the Secret volume")
    elif keys[0] not in secret_keys(volume):
        problems.append(f"{name}: key {keys[0]} is not in the example Secret")
    return problems


def secret_keys(volume: Document) -> list[str]:
    """The keys of the example Secret of the volume's name, if there is one."""
    return [
        key
        for secret in load(SECRETS)
        if secret["metadata"]["name"] == volume["secretName"]
        for key in [*secret.get("stringData", {}), *secret.get("data", {})]
    ]


def job_problems(document: Document) -> list[str]:
    if document["kind"] != "Job":
        return []
    spec = document["spec"]
    indexed = spec.get("completionMode") == "Indexed"
    # An Indexed Job retries and fails each index on its own.
    retries, fail_action = (
        ("backoffLimitPerIndex", "FailIndex") if indexed else ("backoffLimit", "FailJob")
    )
    problems = [
        f"job: {field} is not set"
        for field in (retries, "activeDeadlineSeconds", "ttlSecondsAfterFinished")
        if not isinstance(spec.get(field), int) or spec[field] <= 0
    ]
    if indexed and spec.get("maxFailedIndexes", spec["completions"]) < spec["completions"]:
        problems.append("job: maxFailedIndexes stops healthy indexes mid-revision")
    if spec["template"]["spec"].get("restartPolicy") != "Never":
        problems.append("job: restartPolicy is not Never")
    (runner,) = runner_containers(document)
    fail_at_once: set[int] = set()
    for rule in spec.get("podFailurePolicy", {}).get("rules", []):
        on_exit_codes = rule.get("onExitCodes")
        if on_exit_codes is None:
            continue
        if on_exit_codes.get("containerName") != runner["name"]:
            problems.append("job: a podFailurePolicy rule names another container")
        if rule["action"] == fail_action and on_exit_codes["operator"] == "In":
            values = on_exit_codes["values"]
            if values != sorted(set(values)):
                problems.append("job: podFailurePolicy values are not sorted and unique")
            fail_at_once |= set(values)
    if fail_at_once != set(FAIL_AT_ONCE):
        problems.append(
            f"job: podFailurePolicy fails at once on {sorted(fail_at_once)},"
            f" not {sorted(FAIL_AT_ONCE)}"
        )
    problems += [
        f"job: exit {int(code)} is not retried" for code in RETRIED if code in fail_at_once
    ]
    return problems


def graceful_stop_problems(document: Document) -> list[str]:
    pod = pod_spec(document)
    if pod is None or not runner_containers(document):
        return []
    if pod.get("terminationGracePeriodSeconds", 30) < 60:
        return ["pod: terminationGracePeriodSeconds leaves a revision in flight < 60 s"]
    return []


CHECKS: list[Check] = [
    schema_problems,
    security_problems,
    runner_problems,
    job_problems,
    graceful_stop_problems,
]


def all_problems(document: Document) -> list[str]:
    return [problem for check in CHECKS for problem in check(document)]


# --- Tests. ---


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schema validation uses the bundled schemas: any connection attempt fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail(f"network access during a manifest test: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def by_document() -> list[Any]:
    return [
        pytest.param(document, id=f"{name}[{index}]") for name, index, document in all_documents()
    ]


def test_the_manifests_are_there() -> None:
    kinds = sorted(doc["kind"] for _, _, doc in all_documents())

    assert kinds == ["Deployment", "Job", "Job", "Secret", "Secret"]


@pytest.mark.parametrize("document", by_document())
@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_manifest_passes(document: Document, check: Check) -> None:
    assert check(document) == []


def test_the_deployment_runs_the_runner_as_an_init_container() -> None:
    pod = pod_spec(document_of_kind("Deployment"))
    assert pod is not None

    (runner,) = [c for c in pod.get("initContainers", []) if is_runner(c)]
    assert runner["args"] == ["upgrade"]
    assert runner["imagePullPolicy"] == "IfNotPresent"
    assert not any(is_runner(c) for c in pod["containers"])


def test_the_job_and_the_init_container_run_the_same_runner() -> None:
    (in_deployment,) = runner_containers(document_of_kind("Deployment"))
    (in_job,) = runner_containers(document_of_kind("Job"))
    deployment_pod = pod_spec(document_of_kind("Deployment"))
    job_pod = pod_spec(document_of_kind("Job"))
    assert deployment_pod is not None
    assert job_pod is not None

    assert in_job == in_deployment
    assert job_pod["volumes"] == deployment_pod["volumes"]
    assert job_pod["securityContext"] == deployment_pod["securityContext"]


def test_the_deployment_takes_in_no_migration_pod() -> None:
    selector = document_of_kind("Deployment")["spec"]["selector"]["matchLabels"]

    for job in (JOB, INDEXED_JOB):
        (document,) = load(job)
        labels = document["spec"]["template"]["metadata"]["labels"]
        assert not selector.items() <= labels.items(), job


def test_the_runner_settings_are_the_intended_ones() -> None:
    (runner,) = runner_containers(document_of_kind("Job"))
    values = {variable["name"]: variable.get("value") for variable in runner["env"]}

    assert values == {
        "DATABASE_URL_FILE": "/var/run/secrets/migrator/database-url",
        "MIGRATE_LOG_FORMAT": "json",
        "MIGRATE_WAIT_TIMEOUT": "120",
        "MIGRATE_LOCK_TIMEOUT": "300",
        "POD_NAME": None,
        "POD_NAMESPACE": None,
    }


def test_the_example_secrets_hold_only_placeholders() -> None:
    secrets = load(SECRETS)

    assert [secret["type"] for secret in secrets] == ["Opaque", "Opaque"]
    assert all("data" not in secret for secret in secrets)
    urls = [
        url
        for secret in secrets
        for value in secret["stringData"].values()
        for url in value.split()
    ]
    assert len(urls) == 5
    assert all(re.match(r"mysql://\w+:CHANGE-ME@", url) for url in urls), urls


def test_every_manifest_but_the_example_secrets_belongs_to_one_kustomization() -> None:
    listed = [
        directory / resource
        for directory in KUSTOMIZATIONS
        for resource in yaml.safe_load((directory / KUSTOMIZATION).read_text())["resources"]
    ]

    assert [path.relative_to(MANIFEST_DIR) for path in KUSTOMIZATIONS] == [
        Path("init-container"),
        Path("job"),
        Path("sharded"),
    ]
    assert sorted(listed) == sorted(path for path in MANIFESTS if path != SECRETS)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=relative)
def test_a_kustomization_uses_only_fields_every_kubectl_knows(directory: Path) -> None:
    # kubectl 1.14-1.20 embed kustomize v2.0.3 (Debian's kubernetes-client is 1.20):
    # these fields mean the same there as in kustomize v5.
    kustomization = yaml.safe_load((directory / KUSTOMIZATION).read_text())

    assert set(kustomization) <= {"apiVersion", "kind", "resources", "nameSuffix", "images"}
    assert all(Path(resource).suffix == ".yaml" for resource in kustomization["resources"])


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=relative)
def test_a_kustomization_applies_its_hardened_workload_and_no_secret(directory: Path) -> None:
    documents = kustomize(directory)

    assert len(documents) == 1
    (workload,) = documents
    assert workload["kind"] in {"Deployment", "Job"}
    assert all_problems(workload) == []
    assert "CHANGE-ME" not in yaml.safe_dump(workload)
    (runner_container,) = runner_containers(workload)
    assert runner_container["image"] == f"{RUNNER_IMAGE}:{__version__}"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=relative)
def test_the_example_release_is_this_version(directory: Path) -> None:
    kustomization = yaml.safe_load((directory / KUSTOMIZATION).read_text())

    assert kustomization["images"] == [
        {"name": RUNNER_IMAGE, "newName": RUNNER_IMAGE, "newTag": __version__}
    ]
    # The Deployment keeps its name across releases; each release has a Job of its own.
    expected_suffix = name_suffix(__version__) if directory in RELEASED_JOBS else None
    assert kustomization.get("nameSuffix") == expected_suffix


def release(directory: Path, version: str, overlay: Path) -> Path:
    """A copy of ``directory`` set to release ``version``, as its comments tell a user."""
    shutil.copytree(directory, overlay)
    kustomization = yaml.safe_load((overlay / KUSTOMIZATION).read_text())
    kustomization["nameSuffix"] = name_suffix(version)
    kustomization["images"] = [
        {"name": RUNNER_IMAGE, "newName": "registry.example/team/migrator", "newTag": version}
    ]
    (overlay / KUSTOMIZATION).write_text(yaml.safe_dump(kustomization))
    return overlay


@pytest.mark.parametrize("directory", RELEASED_JOBS, ids=relative)
def test_each_release_applies_a_job_of_its_own(directory: Path, tmp_path: Path) -> None:
    (original,) = load(next(path for path in MANIFESTS if path.parent == directory))
    jobs = {
        version: kustomize(release(directory, version, tmp_path / version))[0]
        for version in ("1.4.2", "1.10.0-rc.1")
    }

    base = original["metadata"]["name"]
    assert {version: job["metadata"]["name"] for version, job in jobs.items()} == {
        "1.4.2": f"{base}-1-4-2",
        "1.10.0-rc.1": f"{base}-1-10-0-rc-1",
    }
    for version, job in jobs.items():
        name = job["metadata"]["name"]
        # A pod of an Indexed Job is named <job>-<index> and so is its host name:
        # the name must stay a DNS label with the index added.
        last_index = f"-{job['spec'].get('completions', 1) - 1}"
        assert DNS_LABEL.fullmatch(name + last_index), name
        assert len(name + last_index) <= 63, name
        assert runner(job)["image"] == f"registry.example/team/migrator:{version}"
        # Only the Job is renamed: the Secret it mounts is the one created out of band.
        assert pod_of(job)["volumes"] == pod_of(original)["volumes"]
        assert all_problems(job) == []


# --- The checks can fail: each mutation of a good manifest must be caught. ---


def pod_of(document: Document) -> Document:
    pod = pod_spec(document)
    assert pod is not None
    return pod


def runner(document: Document) -> Document:
    (container,) = runner_containers(document)
    return container


def app_container(document: Document) -> Document:
    (container,) = [c for c in containers(pod_of(document)) if not is_runner(c)]
    return container


def set_env(document: Document, name: str, value: str) -> None:
    (variable,) = [variable for variable in runner(document)["env"] if variable["name"] == name]
    variable["value"] = value


def failure_rule(document: Document) -> Document:
    rule: Document = document["spec"]["podFailurePolicy"]["rules"][0]
    return rule


MUTATIONS: list[tuple[str, str, Callable[[Document], None], str]] = [
    (
        "unknown-container-field",
        "Deployment",
        lambda doc: runner(doc).update(imagePullSecret="x"),
        "schema: spec.template.spec.initContainers.0: Additional properties",
    ),
    (
        "misspelt-security-field",
        "Job",
        lambda doc: runner(doc)["securityContext"].update(readOnlyRootFileSystem=True),
        "schema: spec.template.spec.containers.0.securityContext: Additional properties",
    ),
    (
        "unknown-top-level-field",
        "Secret",
        lambda doc: doc.update(stringdata={}),
        "schema: : Additional properties",
    ),
    (
        "replicas-as-string",
        "Deployment",
        lambda doc: doc["spec"].update(replicas="3"),
        "schema: spec.replicas:",
    ),
    (
        "no-read-only-root",
        "Deployment",
        lambda doc: runner(doc)["securityContext"].pop("readOnlyRootFilesystem"),
        "migrate: securityContext.readOnlyRootFilesystem is None, not True",
    ),
    (
        "app-may-escalate",
        "Deployment",
        lambda doc: app_container(doc)["securityContext"].update(allowPrivilegeEscalation=True),
        "app: securityContext.allowPrivilegeEscalation is True, not False",
    ),
    (
        "privileged",
        "Deployment",
        lambda doc: app_container(doc)["securityContext"].update(privileged=True),
        "app: securityContext.privileged is set",
    ),
    (
        "capability-added",
        "Deployment",
        lambda doc: runner(doc)["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
        "migrate: securityContext.capabilities do not drop ['ALL'] alone",
    ),
    (
        "capabilities-kept",
        "Job",
        lambda doc: runner(doc)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
        "migrate: securityContext.capabilities do not drop ['ALL'] alone",
    ),
    (
        "runner-as-root",
        "Job",
        lambda doc: runner(doc)["securityContext"].update(runAsUser=0),
        "migrate: securityContext.runAsUser is 0, not 10001",
    ),
    (
        "no-limits",
        "Deployment",
        lambda doc: app_container(doc)["resources"].pop("limits"),
        "app: resources.limits.memory is not set",
    ),
    (
        "service-account-token",
        "Job",
        lambda doc: pod_of(doc).update(automountServiceAccountToken=True),
        "pod: automountServiceAccountToken is not false",
    ),
    (
        "literal-url",
        "Deployment",
        lambda doc: runner(doc)["env"].append(
            {"name": "DATABASE_URL", "value": "mysql://app:secret@db:3306/app"}
        ),
        "migrate: env DATABASE_URL has a literal value",
    ),
    (
        "literal-password",
        "Job",
        lambda doc: runner(doc)["env"].append({"name": "MYSQL_PASSWORD", "value": "secret"}),
        "migrate: env MYSQL_PASSWORD has a literal value",
    ),
    (
        "url-file-outside-the-secret",
        "Job",
        lambda doc: runner(doc)["env"][0].update(value="/etc/database-url"),
        "migrate: DATABASE_URL_FILE=/etc/database-url is not in a mounted Secret volume",
    ),
    (
        "url-file-not-a-secret-key",
        "Deployment",
        lambda doc: runner(doc)["env"][0].update(value="/var/run/secrets/migrator/url"),
        "migrate: /var/run/secrets/migrator/url is not a file of the Secret volume",
    ),
    (
        "misspelt-setting",
        "Deployment",
        lambda doc: runner(doc)["env"].append({"name": "MIGRATE_LOCK_TIMEOUTS", "value": "1"}),
        "migrate: env MIGRATE_LOCK_TIMEOUTS is not a runner setting",
    ),
    (
        "no-fail-at-once-on-6",
        "Job",
        lambda doc: failure_rule(doc)["onExitCodes"].update(values=[2, 4, 8, 9]),
        "job: podFailurePolicy fails at once on [2, 4, 8, 9]",
    ),
    (
        "no-retry-on-3",
        "Job",
        lambda doc: failure_rule(doc)["onExitCodes"].update(values=[2, 3, 4, 6, 8, 9]),
        "job: exit 3 is not retried",
    ),
    (
        "policy-for-another-container",
        "Job",
        lambda doc: failure_rule(doc)["onExitCodes"].update(containerName="app"),
        "job: a podFailurePolicy rule names another container",
    ),
    (
        "no-deadline",
        "Job",
        lambda doc: doc["spec"].pop("activeDeadlineSeconds"),
        "job: activeDeadlineSeconds is not set",
    ),
    (
        "undeclared-target-variable",
        "IndexedJob",
        lambda doc: runner(doc)["env"].append({"name": "DATABASE_URL_LOG_FILE", "value": "/x"}),
        "migrate: env DATABASE_URL_LOG_FILE is not a runner setting",
    ),
    (
        "shard-list-outside-the-secret",
        "IndexedJob",
        lambda doc: set_env(doc, "DATABASE_URL_GAME_FILE", "/etc/shard-urls"),
        "migrate: DATABASE_URL_GAME_FILE=/etc/shard-urls is not in a mounted Secret volume",
    ),
    (
        "no-shard-list",
        "IndexedJob",
        lambda doc: set_env(doc, "MIGRATE_TARGETS", "log"),
        "migrate: DATABASE_URL_FILE or DATABASE_URL_LOG_FILE is not set to a path",
    ),
    (
        "indexed-job-fails-whole",
        "IndexedJob",
        lambda doc: failure_rule(doc).update(action="FailJob"),
        "job: podFailurePolicy fails at once on []",
    ),
    (
        "indexed-job-stops-healthy-indexes",
        "IndexedJob",
        lambda doc: doc["spec"].update(maxFailedIndexes=0),
        "job: maxFailedIndexes stops healthy indexes mid-revision",
    ),
    (
        "no-namespace",
        "IndexedJob",
        lambda doc: runner(doc)["env"].pop(),
        "migrate: env POD_NAMESPACE is not the downward API's metadata.namespace",
    ),
    (
        "short-grace-period",
        "Deployment",
        lambda doc: pod_of(doc).update(terminationGracePeriodSeconds=5),
        "pod: terminationGracePeriodSeconds",
    ),
]


@pytest.mark.parametrize(
    ("kind", "mutate", "expected"),
    [pytest.param(kind, mutate, expected, id=name) for name, kind, mutate, expected in MUTATIONS],
)
def test_a_broken_manifest_is_caught(
    kind: str, mutate: Callable[[Document], None], expected: str
) -> None:
    document = copy.deepcopy(document_of_kind(kind))
    assert all_problems(document) == []

    mutate(document)

    problems = all_problems(document)
    assert any(problem.startswith(expected) or expected in problem for problem in problems), (
        problems
    )


# --- The sharded variant: an Indexed Job (deploy/kubernetes/sharded/) ---


def test_the_indexed_job_splits_the_shards_over_its_completions() -> None:
    (job,) = load(INDEXED_JOB)
    (runner_container,) = runner_containers(job)
    env = {item["name"]: item.get("value") for item in runner_container["env"]}

    assert job["spec"]["completionMode"] == "Indexed"
    assert env["MIGRATE_SHARD_COUNT"] == str(job["spec"]["completions"])
    assert runner_container["args"] == ["upgrade", "--target", "game"]
    # The shard list is a mounted Secret file, never a literal in the manifest.
    mount = runner_container["volumeMounts"][0]["mountPath"]
    assert env["DATABASE_URL_GAME_FILE"].startswith(mount + "/")
    assert not any(value and "mysql://" in value for value in env.values())
    rule = job["spec"]["podFailurePolicy"]["rules"][0]
    assert rule["action"] == "FailIndex"
    assert sorted(rule["onExitCodes"]["values"]) == sorted(int(code) for code in FAIL_AT_ONCE)
