"""Alembic migrations of the metadata store. ``HEAD`` must name the newest revision in ``versions/``."""

HEAD = "0001_initial"
