"""What the runners that run components elsewhere share: the local runner's scheduler, a pipeline target.

``CeleryRunner`` and ``RayRunner`` schedule like ``LocalRunner`` (dependency order, parallelism, caching,
resume, progress hooks, Ctrl-C) but send each ready component to another process, which loads the pipeline
itself, the way ``sluiceway exec`` does. So ``run`` takes the pipeline's target string (what those
processes load), not a ``Pipeline`` object; subclasses say what they check before the run starts
(``prepare``) and what to do when it stops early (``stopped``), and override ``LocalRunner.execute``.
"""

from __future__ import annotations

from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import RunError
from sluiceway.runners.hooks import RunHooks
from sluiceway.runners.local import LocalRunner, Run


class DispatchingRunner(LocalRunner):
    """A LocalRunner whose components run in processes that load the pipeline from its target."""

    workers = "the workers"  # who loads the pipeline, for messages

    _target: str | None = None  # the target those processes load, while a run goes on

    def run(  # type: ignore[override]  # a target, not a Pipeline: the workers load it too
        self,
        pipeline: str,
        *,
        run_name: str | None = None,
        resume: str | None = None,
        progress: bool | RunHooks | None = None,
    ) -> Run:
        """Run the pipeline at ``pipeline`` (a target string); returns the Run like ``LocalRunner.run``."""
        from sluiceway.dsl.loading import load_pipeline

        if isinstance(pipeline, Pipeline) or not isinstance(pipeline, str):
            raise RunError(
                f"{type(self).__name__}.run needs the pipeline's target (path/to/pipeline.py, file.py:attr or "
                f"module:attr), not a {type(pipeline).__name__}: {self.workers} load the pipeline from it."
            )
        loaded = load_pipeline(pipeline)
        self._target = self.prepare(pipeline, loaded)
        try:
            return super().run(loaded, run_name=run_name, resume=resume, progress=progress)
        except BaseException:  # Ctrl-C (the run is CANCELED) or an error that stopped the runner (FAILED)
            self.stopped()
            raise
        finally:
            self._target = None

    def prepare(self, target: str, pipeline: Pipeline) -> str:
        """Checks before the run is recorded; returns the target as the workers should load it."""
        return target

    def stopped(self) -> None:
        """The run stopped early (Ctrl-C or an error): withdraw what was sent and not started."""
