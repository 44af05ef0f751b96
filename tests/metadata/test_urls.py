"""Passwords never reach a message: every store URL shown to a user goes through redact_url/redact_text."""

from __future__ import annotations

from sluiceway.metadata.urls import redact_text, redact_url


def test_password_replaced_user_and_host_kept() -> None:
    assert redact_url("postgresql+psycopg://app:s3cr%40t@db:5432/x") == "postgresql+psycopg://app:***@db:5432/x"


def test_urls_without_password_unchanged() -> None:
    for url in ("sqlite:///a/b.db", "postgresql://app@db/x", "s3://bucket/prefix"):
        assert redact_url(url) == url


def test_every_url_in_free_text() -> None:
    text = "copy from mysql://a:b@h1/d to postgresql://c:d@h2/e failed"
    assert redact_text(text) == "copy from mysql://a:***@h1/d to postgresql://c:***@h2/e failed"


def test_settings_repr_hides_the_password() -> None:
    from sluiceway.config import load_settings

    shown = repr(load_settings(store="postgresql://app:hunter2@db/x"))
    assert "hunter2" not in shown and "postgresql://app:***@db/x" in shown
