"""Alembic migrations of the store's schema; run by :func:`scheduler.store.upgrade`, no alembic.ini needed."""
