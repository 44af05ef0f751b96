"""``RayEngine``: the data engine's map functions as Ray tasks, merged in fragment order on the driver.

The same ``Engine.map_reduce`` contract as ``InProcessEngine`` (``sluiceway.data.engine``): each
``Fragment`` (a Parquet file's row groups and columns) is read by the Ray worker that maps it, the
accumulators come back to the driver and are merged there in fragment order, never in completion
order, so the result is the same as the in-process engine's, byte for byte where the accumulators are
deterministic (every Sluiceway sketch is; see ``sluiceway.data.sketches``).

Memory is bounded on both sides: at most ``max_in_flight`` tasks run or wait at a time (each reading
one fragment) and at most ``2 * max_in_flight`` finished results wait on the driver for an earlier
fragment. An exception in a task is raised again on the driver as a typed error naming the fragment;
Ctrl-C (or any error) cancels the tasks still in flight.

The cluster: ``RayEngine(address=...)``, else ``RAY_ADDRESS``, else the Ray instance this process
already joined, else a new local one (Ray's own default). Its workers must be able to import
``sluiceway`` (the same version as the driver): install it on the cluster, or pass
``runtime_env={"py_modules": [...]}``. Ray is an optional dependency: ``pip install 'sluiceway[ray]'``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sluiceway.data.engine import DEFAULT_BATCH_ROWS, Fragment, _is_int
from sluiceway.errors import ConfigError, DataError, RunError, SluicewayError, require

logger = logging.getLogger(__name__)

A = TypeVar("A")

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
CONNECT_TIMEOUT_SECONDS = 10.0
_connect_lock = threading.Lock()  # components running in parallel threads share one connection
_remote_cache: dict[str, Any] = {}


def _import_ray() -> Any:
    with _keep_process_hooks():  # importing ray already replaces sys.excepthook
        return require("ray", feature="The Ray engine (engine='ray')", extra="ray")


def run_fragment(
    map_fn: Callable[[Fragment, Iterator[Any]], Any], fragment: Fragment, batch_rows: int, batch_format: str
) -> bytes:
    """The body of one Ray task: read the fragment on the worker, map it, and return the pickled result.

    Pickled here, not by Ray: Ray hands the driver numpy arrays that share the object store's memory and are
    read-only, and merging accumulators updates them in place."""
    from ray import cloudpickle

    return bytes(cloudpickle.dumps(map_fn(fragment, fragment.iter_batches(batch_rows, batch_format))))


def _remote_run_fragment(ray: Any) -> Any:
    remote = _remote_cache.get("run_fragment")
    if remote is None:
        remote = _remote_cache["run_fragment"] = ray.remote(run_fragment)
    return remote


def describe_fragment(fragment: Fragment) -> str:
    """A fragment as a user can find it: file, row groups and (when not all) how many columns."""
    where = fragment.path
    if fragment.row_groups is not None:
        where += f" row group {', '.join(map(str, fragment.row_groups))}"
    if fragment.columns is not None:
        shown = ", ".join(fragment.columns[:5]) + (", ..." if len(fragment.columns) > 5 else "")
        where += f" (columns {shown})"
    return where


class RayEngine:
    """Runs map functions as Ray tasks (one per fragment) and merges their results in fragment order.

    ``address``: the cluster (``"127.0.0.1:6379"``, ``"ray://head:10001"``); default ``RAY_ADDRESS``,
    else the Ray instance this process already joined, else a new local one. ``max_in_flight``: tasks
    submitted at a time (default twice the cluster's CPUs). ``num_cpus``: CPUs each task reserves.
    ``runtime_env``: passed to ``ray.init`` when this engine connects (e.g. ``{"py_modules": [...]}``).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        max_in_flight: int | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        num_cpus: float = 1,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ConfigError(
                f"The 'address' parameter of RayEngine must be a Ray address such as '127.0.0.1:6379' or None "
                f"(RAY_ADDRESS). Got {address!r} instead."
            )
        if max_in_flight is not None and not (_is_int(max_in_flight) and max_in_flight >= 1):
            raise ConfigError(
                "The 'max_in_flight' parameter of RayEngine must be an int >= 1 or None. "
                f"Got {max_in_flight!r} instead."
            )
        if not (_is_int(batch_rows) and batch_rows >= 1):
            raise ConfigError(
                f"The 'batch_rows' parameter of RayEngine must be an int >= 1. Got {batch_rows!r} instead."
            )
        if isinstance(num_cpus, bool) or not isinstance(num_cpus, (int, float)) or num_cpus <= 0:
            raise ConfigError(f"The 'num_cpus' parameter of RayEngine must be a number > 0. Got {num_cpus!r} instead.")
        self.address = address if address is not None else (os.environ.get("RAY_ADDRESS") or None)
        self.max_in_flight = max_in_flight
        self.batch_rows = batch_rows
        self.num_cpus = num_cpus
        self.runtime_env = runtime_env

    def __repr__(self) -> str:
        return f"RayEngine(address={self.address!r})"

    def connect(self) -> Any:
        """Join the cluster (once per process) and return the ``ray`` module.

        A process is a driver of one cluster at a time (Ray's rule): once joined, every RayEngine of the
        process uses that cluster, whatever its ``address``."""
        ray = _import_ray()
        with _connect_lock:
            if ray.is_initialized():
                return ray
            kwargs: dict[str, Any] = {
                "address": self.address,
                "log_to_driver": False,  # workers' output stays in the cluster's logs, not in our stdout
                "configure_logging": False,  # the application configures logging, not a library
                "runtime_env": self.runtime_env,
            }
            host = (self.address or "").removeprefix("ray://").rsplit(":", 1)[0]
            if self.address is not None:
                self._check_reachable()
            if host in _LOOPBACK_HOSTS:
                # a cluster on the loopback interface: this node is there too (Ray would otherwise pick the
                # machine's external address and fail to reach it)
                kwargs["_node_ip_address"] = "127.0.0.1"
            try:
                with _keep_process_hooks():
                    ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RunError(
                    f"Cannot connect to the Ray cluster at {self.address or '(a new local instance)'}: {exc}. "
                    "Start one with `ray start --head` and set RAY_ADDRESS (or RayEngine(address=...)) to its "
                    "address, or use engine='local'."
                ) from exc
            logger.info("Connected to Ray (%s): %s", self.address or "local", ray.cluster_resources())
            return ray

    def _check_reachable(self) -> None:
        """Fail fast on a cluster address where nothing listens: ``ray.init`` would retry for minutes."""
        assert self.address is not None
        host, _, port = self.address.removeprefix("ray://").rpartition(":")
        if not host or not port.isdigit():
            return  # "auto", or an address form Ray resolves itself
        try:
            socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_SECONDS).close()
        except OSError as exc:
            raise RunError(
                f"Cannot connect to the Ray cluster at {self.address}: {exc}. Start one with `ray start --head` "
                "and set RAY_ADDRESS (or RayEngine(address=...)) to its address, or use engine='local'."
            ) from exc

    @property
    def parallelism(self) -> int:
        """The cluster's CPUs divided by the CPUs one task reserves (at least 1)."""
        ray = self.connect()
        cpus = float(ray.cluster_resources().get("CPU", 1))
        return max(1, int(cpus // self.num_cpus))

    def map_reduce(
        self,
        fragments: Sequence[Fragment],
        map_fn: Callable[[Fragment, Iterator[Any]], A],
        merge_fn: Callable[[A, A], A],
        *,
        initial: A | None = None,
        batch_format: str = "arrow",
    ) -> A | None:
        """Apply ``map_fn`` to every fragment in a Ray task and merge the results in fragment order.

        Returns ``initial`` (default None) when there are no fragments. An exception in a task is raised
        here as the same Sluiceway error type (other exceptions as ``DataError``), naming the fragment,
        with the task's exception as ``__cause__``; a lost worker or node raises ``RunError``."""
        result: A | None = initial
        if not fragments:
            return result
        ray = self.connect()
        window = self.max_in_flight or 2 * self.parallelism
        remote = _remote_run_fragment(ray).options(num_cpus=self.num_cpus)
        map_ref = ray.put(map_fn)  # shipped once, not once per task
        logger.info("%d fragment(s) as Ray tasks on %s, %d at a time", len(fragments), self.address or "local", window)
        in_flight: dict[Any, int] = {}
        ready: dict[int, A] = {}
        next_to_fold = 0
        next_to_submit = 0
        try:
            while next_to_fold < len(fragments):
                while (
                    next_to_submit < len(fragments)
                    and len(in_flight) < window
                    and next_to_submit - next_to_fold < 2 * window
                ):
                    ref = remote.remote(map_ref, fragments[next_to_submit], self.batch_rows, batch_format)
                    in_flight[ref] = next_to_submit
                    next_to_submit += 1
                done, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in done:
                    index = in_flight.pop(ref)
                    ready[index] = self._get(ray, ref, fragments[index])
                while next_to_fold in ready:
                    value = ready.pop(next_to_fold)
                    result = value if result is None else merge_fn(result, value)
                    next_to_fold += 1
        except BaseException:
            _cancel(ray, in_flight)
            raise
        return result

    def _get(self, ray: Any, ref: Any, fragment: Fragment) -> Any:
        try:
            return pickle.loads(ray.get(ref))  # noqa: S301 - our own task's result, pickled by run_fragment
        except ray.exceptions.RayTaskError as exc:
            raise _task_error(exc.cause if exc.cause is not None else exc, fragment) from exc.cause
        except ray.exceptions.RayError as exc:  # a worker or node died, an object was lost, ...
            raise RunError(
                f"The Ray task for {describe_fragment(fragment)} did not complete: {exc}. "
                f"Check the cluster at {self.address or 'the local Ray instance'} (`ray status`)."
            ) from exc


@contextlib.contextmanager
def _keep_process_hooks() -> Iterator[None]:
    """Put back the SIGTERM handler and ``sys.excepthook`` that ``ray`` replaces with its own: they
    belong to the application (a CLI, a notebook, a test runner), not to a library that joins a cluster."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    sigterm = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    excepthook = sys.excepthook
    try:
        yield
    finally:
        if in_main_thread and sigterm is not None:
            signal.signal(signal.SIGTERM, sigterm)
        sys.excepthook = excepthook


def _task_error(cause: BaseException, fragment: Fragment) -> SluicewayError:
    """The task's exception as raised on the driver: its own type when it is a Sluiceway error, else
    ``DataError``; the message names the fragment."""
    message = f"While processing {describe_fragment(fragment)} on Ray: {type(cause).__name__}: {cause}"
    if isinstance(cause, SluicewayError):
        try:
            rebuilt = type(cause)(message)
        except TypeError:  # an error type whose constructor takes more than a message
            return DataError(message)
        return rebuilt
    return DataError(message)


CANCEL_GRACE_SECONDS = 10.0


def _cancel(ray: Any, in_flight: dict[Any, int]) -> None:
    """Cancel the tasks still running or queued (Ray raises KeyboardInterrupt inside a running task) and
    wait, up to ``CANCEL_GRACE_SECONDS``, until they have stopped, so none outlives the call."""
    refs = list(in_flight)
    if not refs:
        return
    try:
        for ref in refs:
            ray.cancel(ref)
        ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_SECONDS)
    except Exception as exc:  # noqa: BLE001 - best effort while an error or Ctrl-C is already propagating
        logger.warning("could not cancel %d Ray task(s): %s", len(refs), exc)


__all__ = ["RayEngine", "describe_fragment", "run_fragment"]
