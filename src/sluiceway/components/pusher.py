"""Pusher: publish a blessed model to a versioned serving directory, atomically.

    Pusher(model=trainer.model, model_blessing=evaluator.blessing, infra_blessing=infra.blessing,
           base_directory="serving")

Every blessing given must be blessed; if one is not, nothing is pushed and the ``PushedModel`` says so
(``pushed=False`` and ``reasons``: which blessing refused and the reasons it states). Blessings are optional:
with none the model is pushed unconditionally.

Destination (the serving contract): ``{base_directory}/{model_name}/{version}/`` holds a complete copy of
the Model bundle (``bundle.json``, ``model/``, ``transform/``), so ``sw.load_model(path)`` loads it and
``sluiceway serve`` picks it up. ``version`` is the next integer after the largest one present (1 first).
The copy is written into ``{base_directory}/{model_name}/.staging-{version}-{random}/``, fsynced, checked
against the bundle's SHA-256 digests, and published with one ``os.rename``: a crash mid-copy leaves only a
``.staging-*`` folder, which readers ignore (they load names made of digits only). If another pusher took
the version first the rename fails and the next number is tried. A model whose bundle is byte-identical
to the latest version is not copied again: the PushedModel records that version (``already_serving``).

MLflow model registry (the ``mlflow`` extra): ``mlflow_tracking_uri="sqlite:///mlflow.db"`` (or a server's
URL) also registers the model as the next version of ``model_name`` there, as a pyfunc model that predicts
with the bundle (see ``sluiceway.components.mlflow_push``). Give ``base_directory``, ``mlflow_tracking_uri``
or both; ``destination`` and ``version`` name the serving directory's version when there is one, else the
registry's; ``mlflow_model_uri`` (``models:/{name}/{version}``) and ``mlflow_version`` the registry's.

``model_name`` defaults to the pipeline's name. ``cache`` defaults to False: the destination is outside
the artifact store, so every run looks at it again.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from sluiceway.artifacts import InfraBlessing, Model, ModelBlessing, PushedModel
from sluiceway.artifacts.base import Artifact
from sluiceway.dsl.component import Component, Input, Output
from sluiceway.errors import ComponentError, DefinitionError

logger = logging.getLogger(__name__)

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*", re.ASCII)
STAGING_PREFIX = ".staging-"
_RENAME_ATTEMPTS = 100  # concurrent pushers of one model name, each taking the next version


def published_versions(model_root: str | os.PathLike[str]) -> list[int]:
    """The versions under ``{base}/{model_name}/``: folders named by digits only, ascending."""
    root = Path(model_root)
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and p.name.isascii() and p.is_dir())


class Pusher(Component):
    """Model (+ ModelBlessing, InfraBlessing) → PushedModel: a new version in the serving directory."""

    def __init__(self, *, cache: bool = False, **kwargs: Any) -> None:
        super().__init__(cache=cache, **kwargs)

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        base, registry = parameters["base_directory"], parameters["mlflow_tracking_uri"]
        if base is None and registry is None:
            raise DefinitionError(
                f"{owner} needs a destination: base_directory='serving' (a versioned serving directory), "
                "mlflow_tracking_uri='sqlite:///mlflow.db' (an MLflow model registry), or both."
            )
        if registry is not None and not registry.strip():
            raise DefinitionError(
                f"The 'mlflow_tracking_uri' parameter of {owner} must be an MLflow tracking URI, e.g. "
                f"'sqlite:///mlflow.db' or 'http://mlflow:5000'. Got {registry!r} instead."
            )
        if base is not None and not base.strip():
            raise DefinitionError(
                f"The 'base_directory' parameter of {owner} must be a folder path, e.g. 'serving'. "
                f"Got {base!r} instead."
            )
        name = parameters["model_name"]
        if name is not None and not MODEL_NAME.fullmatch(name):
            raise DefinitionError(
                f"The 'model_name' parameter of {owner} must start with a letter or digit and contain only letters, "
                f"digits, '_', '-' or '.' (it names the serving folder and the server's model). Got {name!r} instead."
            )

    def execute(  # type: ignore[override]
        self,
        model: Input[Model],
        pushed_model: Output[PushedModel],
        model_blessing: Input[ModelBlessing] | None = None,
        infra_blessing: Input[InfraBlessing] | None = None,
        *,
        base_directory: str | None = None,
        model_name: str | None = None,
        mlflow_tracking_uri: str | None = None,
    ) -> None:
        name = model_name or _pipeline_name(None)
        reasons = [
            reason
            for label, blessing in (("model_blessing", model_blessing), ("infra_blessing", infra_blessing))
            if blessing is not None
            for reason in _refusals(label, blessing)
        ]
        pushed_model.properties.update(model_name=name, reasons=reasons)
        if reasons:
            pushed_model.properties["pushed"] = False
            logger.warning("Not pushing model %s (%s #%s): %s", name, model.TYPE_NAME, model.id, "; ".join(reasons))
            return
        if mlflow_tracking_uri is not None:
            registered, uri = _push_to_mlflow(model.path, mlflow_tracking_uri, name)
            pushed_model.properties.update(
                pushed=True, destination=uri, version=registered, mlflow_model_uri=uri, mlflow_version=registered
            )
            logger.info("Registered model %s version %d in MLflow (%s)", name, registered, uri)
        if base_directory is not None:
            model_root = Path(base_directory).resolve() / name
            version, already = push_bundle(model.path, model_root)
            destination = model_root / str(version)
            pushed_model.properties.update(
                pushed=True, destination=str(destination), version=version, already_serving=already
            )
            logger.info(
                "%s model %s version %d at %s", "Already serving" if already else "Pushed", name, version, destination
            )


def _pipeline_name(fallback: str | None) -> str:
    from sluiceway.runners.execute import current_execution

    current = current_execution()
    if current is None and fallback is not None:
        return fallback
    if current is None:
        raise ComponentError("Pusher needs a 'model_name' when it runs outside a pipeline run; pass model_name=...")
    return current.pipeline_name


def _push_to_mlflow(bundle: Path, tracking_uri: str, name: str) -> tuple[int, str]:
    from sluiceway.errors import require

    require("mlflow", feature="Pusher's MLflow registry destination (mlflow_tracking_uri)", extra="mlflow")
    from sluiceway.components.mlflow_push import push_to_registry

    return push_to_registry(bundle, tracking_uri=tracking_uri, model_name=name, pipeline=_pipeline_name(name))


def _refusals(label: str, blessing: Artifact) -> list[str]:
    """Why ``blessing`` refuses the push (its stated reasons), or [] when it is blessed."""
    if "blessed" not in blessing.properties:
        raise ComponentError(
            f"Pusher input {label!r} ({blessing.TYPE_NAME} #{blessing.id}) has no 'blessed' property; its producer "
            "must set blessing.properties['blessed'] to True or False."
        )
    if blessing.properties["blessed"] is True:
        return []
    from sluiceway.dsl.conditions import stated_reasons

    stated = stated_reasons(blessing)
    because = f": {'; '.join(stated)}" if stated else ""
    return [f"{label} ({blessing.TYPE_NAME} #{blessing.id}) is not blessed{because}"]


def push_bundle(bundle: Path, model_root: Path) -> tuple[int, bool]:
    """Copy the Model bundle at ``bundle`` to the next version under ``model_root``; (version, already there).

    Atomic: staging folder, fsync, digest check, one rename. Raises ``ComponentError`` when the destination
    cannot be written.
    """
    from sluiceway.runners.execute import fault_point
    from sluiceway.trainer.bundle import read_manifest

    manifest_bytes = (bundle / Model.FILENAME).read_bytes()
    try:
        model_root.mkdir(parents=True, exist_ok=True)
        versions = published_versions(model_root)
        if versions and _same_bundle(model_root / str(versions[-1]), manifest_bytes):
            return versions[-1], True
        staging = model_root / f"{STAGING_PREFIX}{(versions[-1] if versions else 0) + 1}-{uuid.uuid4().hex}"
        try:
            staging.mkdir()
            for source in sorted(p for p in bundle.rglob("*") if p.is_file()):
                target = staging / source.relative_to(bundle)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                _fsync(target)
                fault_point("pusher-copy")  # test-only (after each file): a kill here must leave no version behind
            for folder in sorted({p.parent for p in staging.rglob("*")}, key=lambda p: -len(p.parts)):
                _fsync(folder)
            read_manifest(staging)  # every file present and identical to what the Trainer wrote
            fault_point("pusher-rename")  # test-only: complete but not published
            version = _rename_to_next_version(staging, model_root)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)  # not published: nothing a server could load
            raise
        _fsync(model_root)
    except OSError as exc:
        raise ComponentError(
            f"Pusher could not write the serving directory {model_root}: {exc}. Check that base_directory is a "
            "writable folder with free space."
        ) from exc
    return version, False


def _rename_to_next_version(staging: Path, model_root: Path) -> int:
    for _ in range(_RENAME_ATTEMPTS):
        versions = published_versions(model_root)
        version = (versions[-1] if versions else 0) + 1
        try:
            os.rename(staging, model_root / str(version))
            return version
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # another pusher published this version between the listing and the rename: take the next
    raise ComponentError(
        f"Pusher could not take a version under {model_root} after {_RENAME_ATTEMPTS} attempts: other pushers keep "
        "publishing there. Try again."
    )


def _same_bundle(version_folder: Path, manifest_bytes: bytes) -> bool:
    # bundle.json lists the SHA-256 of every file: the same manifest bytes mean the same model
    try:
        return (version_folder / Model.FILENAME).read_bytes() == manifest_bytes
    except OSError:  # no manifest there (not a bundle): not the same model
        return False


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


__all__ = ["Pusher", "published_versions", "push_bundle"]
