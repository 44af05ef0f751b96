"""The pipeline authoring surface: components, inputs and outputs, pipelines."""

from sluiceway.dsl.component import Channel, Component, Input, Output, OutputChannel, component
from sluiceway.dsl.conditions import when
from sluiceway.dsl.pipeline import Pipeline

__all__ = ["Channel", "Component", "Input", "Output", "OutputChannel", "Pipeline", "component", "when"]
