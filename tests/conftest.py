"""Shared fixtures: each real dependency (Ray head, PostgreSQL) lives in its own plugin module."""

pytest_plugins: list[str] = ["tests.fixtures.postgres", "tests.fixtures.ray_head"]
