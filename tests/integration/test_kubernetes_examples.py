"""The sharded Kubernetes example, run as its Indexed Job's pods would run it.

The pods' settings come from the Job that `kubectl apply -k deploy/kubernetes/sharded`
would create; only the Secret's mount is replaced by a file here. The migrations and schema
are the project's own example target (migrations/game/, schema/game.py), found
by convention, as in the image.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory

from tests.support.kubernetes import kustomize
from tests.support.project import PROJECT_ROOT
from tests.support.runner import run_entrypoint, runner_env
from tests.support.servers import ScratchDatabase

SHARDS = 6


def game_head() -> str | None:
    return ScriptDirectory(str(PROJECT_ROOT / "migrations" / "game")).get_current_head()


def pod_settings(job: dict[str, Any], secret_dir: Path, index: int) -> dict[str, str]:
    """What the Job's pod ``index`` is given, with its Secret mounted at ``secret_dir``."""
    (container,) = job["spec"]["template"]["spec"]["containers"]
    (mount,) = container["volumeMounts"]
    downward = {
        "metadata.name": f"{job['metadata']['name']}-{index}-x7k2p",
        "metadata.namespace": "games",
    }
    settings = {
        variable["name"]: (
            variable["value"].replace(mount["mountPath"], str(secret_dir))
            if "value" in variable
            else downward[variable["valueFrom"]["fieldRef"]["fieldPath"]]
        )
        for variable in container["env"]
    }
    settings["JOB_COMPLETION_INDEX"] = str(index)  # set by Kubernetes in an Indexed Job
    settings["MIGRATE_WAIT_TIMEOUT"] = "10"
    return runner_env(**settings)


def test_the_indexed_job_migrates_each_shard_once_with_the_example_target(
    shards: list[ScratchDatabase], tmp_path: Path
) -> None:
    (job,) = kustomize(PROJECT_ROOT / "deploy" / "kubernetes" / "sharded")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    (volume,) = job["spec"]["template"]["spec"]["volumes"]
    (item,) = volume["secret"]["items"]
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    (secret_dir / item["path"]).write_text("".join(f"{shard.url}\n" for shard in shards))
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    # In a fleet, a shard's steps (each naming the runner) are logged at debug level.
    pods = [
        run_entrypoint(
            container["args"],
            {**pod_settings(job, secret_dir, index), "MIGRATE_DEBUG": "1"},
            workdir,
        )
        for index in range(job["spec"]["completions"])
    ]

    assert [pod.code for pod in pods] == [0] * len(pods), [pod.stderr for pod in pods]
    head = game_head()
    assert head is not None
    assert [shard.version() for shard in shards] == [{head}] * SHARDS
    assert all("inventory" in shard.tables() for shard in shards)
    # Every shard by exactly one pod, each named as kubectl names it.
    applied = Counter(
        (entry["shard"], entry["runner"].split(" pid ")[0])
        for pod in pods
        for entry in pod.logs
        if entry["message"] == "applying revision"
    )
    completions = job["spec"]["completions"]
    assert applied == Counter(
        {
            (position, f"games/{job['metadata']['name']}-{position % completions}-x7k2p"): 1
            for position in range(SHARDS)
        }
    )
    # The example's schema module is what its migrations build.
    check = run_entrypoint(
        ["check", "--target", "game", "--shard", "3"],
        pod_settings(job, secret_dir, 0),
        workdir,
    )
    assert check.code == 0, check.stderr
