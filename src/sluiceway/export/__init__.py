"""Export a pipeline to an orchestrator: a shared task plan (``plan``), one renderer per orchestrator.

``build_plan(pipeline, target, options)`` turns a pipeline into one task per component, each running
``sluiceway exec``; ``airflow.render_dag`` / ``write_dag``, ``kubeflow.compile_pipeline``,
``argo.render_workflow`` / ``write_workflow`` and ``luigi.render_module`` / ``write_module`` render it
(``ExportPlan.to_dict()`` is its JSON form, for renderers in another interpreter).
"""

from sluiceway.export.plan import RUN_NAME, ExportOptions, ExportPlan, TaskPlan, build_plan

__all__ = ["RUN_NAME", "ExportOptions", "ExportPlan", "TaskPlan", "build_plan"]
