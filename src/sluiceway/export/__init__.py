"""Export a pipeline to an orchestrator: a shared task plan (``plan``), one renderer per orchestrator.

``build_plan(pipeline, target, options)`` turns a pipeline into one task per component, each running
``sluiceway exec``; ``airflow.render_dag`` / ``write_dag`` and ``kubeflow.compile_pipeline`` render it.
New orchestrators (Argo, Celery, Luigi) render the same plan (``ExportPlan.to_dict()`` is its JSON form).
"""

from sluiceway.export.plan import RUN_NAME, ExportOptions, ExportPlan, TaskPlan, build_plan

__all__ = ["RUN_NAME", "ExportOptions", "ExportPlan", "TaskPlan", "build_plan"]
