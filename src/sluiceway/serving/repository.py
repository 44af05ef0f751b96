"""The models a server holds, and hot reload of new versions from the serving directory.

Layout read (the Pusher's contract): ``{model_dir}/{model_name}/{version}/`` with ``version`` all digits;
anything else (``.staging-*`` folders, files, other names) is ignored. The latest version of each model is
loaded at start and whenever a higher version appears; older versions load on first request by path.

Swaps are one dictionary assignment: a request holds the ``ServedModel`` it started with, so in-flight
requests finish on the old version while new ones get the new one, and no request ever sees a model that is
half loaded (loading happens beside, in the watcher thread). A version that fails to load is reported in
the model's status (``/v1/models/{name}``) with its error, and the previous version keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluiceway.serving.config import MODEL_NAME, ServerConfig

log = logging.getLogger(__name__)

# Older versions asked for by path are kept loaded, at most this many per model (least recently loaded go).
MAX_PINNED_VERSIONS = 4


@dataclass(frozen=True)
class ServedModel:
    """One loaded model version, with what request handling needs precomputed."""

    name: str
    version: int
    model: Any  # sluiceway.trainer.bundle.LoadedModel
    inputs: tuple[tuple[str, str], ...]  # (feature, type) from the signature: the SERVING environment
    classes: tuple[Any, ...] | None
    label_type: str  # "string", "int" or "float" (regression)
    version_text: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "version_text", str(self.version))

    @property
    def task(self) -> str:
        return "classification" if self.classes is not None else "regression"

    @property
    def output_names(self) -> tuple[str, ...]:
        return ("label", "probabilities") if self.classes is not None else ("prediction",)


@dataclass
class ModelState:
    """Everything known about one model name: its served (latest loaded) version and any load failures."""

    name: str
    latest: ServedModel | None = None
    pinned: dict[int, ServedModel] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)  # version -> error message of its last load


def load_served_model(name: str, version: int, folder: Path, runtime: str) -> ServedModel:
    """Load one version folder (raises the loader's typed error when it cannot)."""
    from sluiceway.trainer.bundle import load_model, read_manifest

    chosen = runtime
    if runtime == "auto":
        chosen = "onnx" if read_manifest(folder).get("onnx") else "native"
    model = load_model(folder, runtime=chosen)
    inputs = tuple((str(spec["name"]), str(spec.get("type", "float"))) for spec in model.signature.get("inputs", []))
    classes = tuple(model.classes) if model.classes is not None else None
    if classes is None:
        label_type = "float"
    else:
        label_type = "string" if any(isinstance(c, str) for c in classes) else "int"
    return ServedModel(name=name, version=version, model=model, inputs=inputs, classes=classes, label_type=label_type)


def version_folders(model_folder: Path) -> dict[int, Path]:
    """The published versions of one model: sub-folders whose names are all digits (and positive)."""
    found: dict[int, Path] = {}
    try:
        entries = list(model_folder.iterdir())
    except OSError:  # removed while we looked: no versions
        return found
    for entry in entries:
        if entry.name.isdigit() and int(entry.name) > 0 and entry.is_dir():
            found[int(entry.name)] = entry
    return found


class ModelRepository:
    """The served models of one server process; ``refresh()`` loads new versions (the watcher calls it)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.base = Path(config.model_dir)
        self._models: dict[str, ModelState] = {}
        self._lock = threading.Lock()  # one loader at a time (the watcher, or a request for an old version)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.loaded_once = False
        self.on_load: list[Any] = []  # callbacks (name, version, ok): the metrics hook in
        self._failure_times: dict[tuple[str, int], float] = {}

    # -- what requests read (no lock: one dict lookup on a dict that is replaced, never mutated in place)
    def get(self, name: str) -> ModelState | None:
        return self._models.get(name)

    def names(self) -> list[str]:
        return sorted(self._models)

    def states(self) -> Iterator[ModelState]:
        for name in self.names():
            state = self._models.get(name)
            if state is not None:
                yield state

    def ready(self) -> bool:
        """Loaded once, and every model with a published version serves one."""
        return self.loaded_once and all(state.latest is not None for state in self._models.values())

    def version(self, name: str, version: int) -> ServedModel | None:
        """A specific version: the latest if it is that one, else loaded on demand (None if not published)."""
        state = self._models.get(name)
        if state is None:
            return None
        if state.latest is not None and state.latest.version == version:
            return state.latest
        pinned = state.pinned.get(version)
        if pinned is not None:
            return pinned
        folder = self.base / name / str(version)
        if not folder.is_dir():
            return None
        with self._lock:
            pinned = state.pinned.get(version)
            if pinned is None:
                pinned = load_served_model(name, version, folder, self.config.runtime)
                kept = dict(list(state.pinned.items())[-(MAX_PINNED_VERSIONS - 1) :])
                kept[version] = pinned
                state.pinned = kept
        return pinned

    # -- loading
    def refresh(self) -> None:
        """Scan the serving directory once; load every model's latest version that is not loaded yet."""
        with self._lock:
            try:
                entries = sorted(self.base.iterdir())
            except OSError as exc:  # the directory went away: keep serving what is loaded, say so
                log.warning("Cannot list the model directory %s: %s", self.base, exc)
                return
            models = dict(self._models)
            for entry in entries:
                if not (MODEL_NAME.fullmatch(entry.name) and entry.is_dir()):
                    continue
                versions = version_folders(entry)
                if not versions:
                    continue
                state = models.get(entry.name) or ModelState(entry.name)
                models[entry.name] = state
                self._load_latest(state, versions)
            self._models = models
            self.loaded_once = True

    def _load_latest(self, state: ModelState, versions: dict[int, Path]) -> None:
        # Newest first: a version that fails to load does not hide an older one that works.
        current = state.latest.version if state.latest is not None else 0
        for version in sorted(versions, reverse=True):
            if version <= current:
                return
            if version in state.failures and not self._changed_since_failure(versions[version]):
                continue
            try:
                served = load_served_model(state.name, version, versions[version], self.config.runtime)
            except Exception as exc:  # noqa: BLE001 - a bad bundle must not stop the server; reported in status
                message = f"{type(exc).__name__}: {exc}"
                if state.failures.get(version) != message:
                    log.error("Model %s version %d failed to load: %s", state.name, version, message)
                state.failures[version] = message
                self._failure_times[(state.name, version)] = time.time()
                self._notify(state.name, version, False)
                continue
            state.failures.pop(version, None)
            state.latest = served  # the swap: requests from now on get this version
            log.info("Serving model %s version %d", state.name, version)
            self._notify(state.name, version, True)
            return

    def _changed_since_failure(self, folder: Path) -> bool:
        """Retry a failed version only when something in its folder changed after the failure."""
        failed_at = self._failure_times.get((folder.parent.name, int(folder.name)), 0.0)
        try:
            return any(path.stat().st_mtime >= failed_at for path in [folder, *folder.rglob("*")])
        except OSError:  # changing right now: try again
            return True

    def _notify(self, name: str, version: int, ok: bool) -> None:
        for callback in self.on_load:
            callback(name, version, ok)

    # -- the watcher thread
    def start_watching(self) -> None:
        self._watcher = threading.Thread(target=self._watch, name="sluiceway-model-watcher", daemon=True)
        self._watcher.start()

    def stop_watching(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=30)

    def _watch(self) -> None:
        while not self._stop.wait(self.config.poll_seconds):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the watcher must outlive one bad scan; the next one retries
                log.exception("Checking %s for new model versions failed", self.base)
