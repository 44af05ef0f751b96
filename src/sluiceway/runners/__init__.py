"""Runners: execute pipelines locally (and, through ``sluiceway exec``, on orchestrators)."""
