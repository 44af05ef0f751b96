"""The records the metadata store returns: runs, executions and lineage walks (frozen, JSON-ready)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sluiceway.artifacts.base import Artifact


@dataclass(frozen=True)
class RunRecord:
    id: int
    name: str
    pipeline: str
    state: str
    properties: dict[str, Any]
    create_time: int
    update_time: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "pipeline": self.pipeline,
            "state": self.state,
            "properties": self.properties,
            "create_time": self.create_time,
            "update_time": self.update_time,
        }


@dataclass(frozen=True)
class ExecutionRecord:
    id: int
    run_id: int
    component_id: str
    component_type: str
    state: str
    fingerprint: str | None
    cached_from: int | None
    parameters: dict[str, Any]
    log_uri: str | None
    error: str | None
    attempts: int
    host: str | None
    pid: int | None
    create_time: int
    start_time: int | None
    end_time: int | None
    inputs: dict[str, Artifact] = field(default_factory=dict)
    outputs: dict[str, Artifact] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int | None:
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "component_id": self.component_id,
            "component_type": self.component_type,
            "state": self.state,
            "fingerprint": self.fingerprint,
            "cached_from": self.cached_from,
            "parameters": self.parameters,
            "log_uri": self.log_uri,
            "error": self.error,
            "attempts": self.attempts,
            "host": self.host,
            "pid": self.pid,
            "create_time": self.create_time,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration_ms": self.duration_ms,
            "inputs": {k: v.to_dict() for k, v in self.inputs.items()},
            "outputs": {k: v.to_dict() for k, v in self.outputs.items()},
        }


@dataclass(frozen=True)
class LineageNode:
    """One execution in a lineage walk, with the artifacts it read and wrote."""

    execution: ExecutionRecord
    run_name: str
    depth: int

    def to_dict(self) -> dict[str, Any]:
        e = self.execution
        return {
            "depth": self.depth,
            "run": self.run_name,
            "execution_id": e.id,
            "component_id": e.component_id,
            "state": e.state,
            "cached_from": e.cached_from,
            "inputs": {k: v.to_dict() for k, v in e.inputs.items()},
            "outputs": {k: v.to_dict() for k, v in e.outputs.items()},
        }


@dataclass(frozen=True)
class Lineage:
    artifact: Artifact
    upstream: list[LineageNode]  # what produced the artifact, and what produced that, ...
    downstream: list[LineageNode]  # what consumed it, and what consumed their outputs, ...

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact.to_dict(),
            "upstream": [n.to_dict() for n in self.upstream],
            "downstream": [n.to_dict() for n in self.downstream],
        }
