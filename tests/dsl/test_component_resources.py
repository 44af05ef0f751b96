"""The ``resources=`` setting: checked when the component is built, kept out of the cache key."""

from __future__ import annotations

from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.runners.ray import cluster_request, task_options


@sw.component
def make(examples: sw.Output[sw.Examples], *, rows: int = 3) -> None:
    split = examples.path / "Split-train"
    split.mkdir(parents=True)
    (split / "rows.txt").write_text("\n".join(map(str, range(rows))))
    examples.properties["split_names"] = ["train"]
    examples.properties["row_counts"] = {"train": rows}


def test_resources_are_kept_as_given_and_become_ray_task_options() -> None:
    asked = {"num_cpus": 2, "num_gpus": 1, "memory": 4e9, "accelerator_a100": 0.5}
    node = make(resources=asked)
    assert node.resources == asked and node.resources is not asked
    assert make().resources == {}
    assert task_options(node.resources) == {
        "num_cpus": 2, "num_gpus": 1, "memory": 4e9, "resources": {"accelerator_a100": 0.5}, "max_retries": 0,
    }  # fmt: skip
    assert task_options({}) == {"max_retries": 0}
    assert cluster_request(node.resources) == {"CPU": 2.0, "GPU": 1.0, "memory": 4e9, "accelerator_a100": 0.5}
    assert cluster_request({"num_gpus": 1}) == {"CPU": 1.0, "GPU": 1.0}  # Ray's default CPU stays
    assert cluster_request({"num_cpus": 0}) == {}


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ([("num_cpus", 1)], "must be a mapping of resource names to amounts"),
        ({"num_gpus": -1}, "'num_gpus' must be a number >= 0 .*Got -1 instead"),
        ({"num_cpus": "2"}, "'num_cpus' must be a number >= 0 .*Got '2' instead"),
        ({"num_cpus": True}, "'num_cpus' must be a number >= 0"),
        ({"memory": float("nan")}, "'memory' must be a number >= 0"),
        ({"GPU": 1}, "asks for 'GPU': write it as 'num_gpu"),
        ({1: 1}, "names resources with strings"),
    ],
)
def test_bad_resources_are_refused_when_the_component_is_built(resources: object, message: str) -> None:
    with pytest.raises(sw.DefinitionError, match=r"The 'resources' setting of component 'make' \(make\)") as info:
        make(resources=resources)
    assert info.match(message)


def test_a_component_with_resources_reuses_the_cached_run_of_one_without(tmp_path: Path) -> None:
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts")
    first = runner.run(sw.Pipeline("res", [make()])).raise_for_status()
    second = runner.run(sw.Pipeline("res", [make(resources={"num_gpus": 1, "memory": 1e9})])).raise_for_status()
    assert first["make"].state == "COMPLETE"  # the local runner ignores resources: no GPU needed here
    assert second["make"].state == "CACHED" and second["make"].cached_from == first["make"].id
    assert second["make"].fingerprint == first["make"].fingerprint
    third = runner.run(sw.Pipeline("res", [make(rows=4, resources={"num_gpus": 1})])).raise_for_status()
    assert third["make"].state == "COMPLETE"  # a parameter does change the key
