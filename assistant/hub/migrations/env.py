"""Alembic environment for the hub: run on the connection the hub hands over."""

from __future__ import annotations

from alembic import context

from assistant.hub.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - the hub always passes its connection
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url") or "sqlite:///hub.sqlite"
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
