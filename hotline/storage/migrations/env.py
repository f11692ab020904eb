"""Alembic environment: runs on the connection handed over by hotline.storage.database."""

from alembic import context

# Imported so that their tables join Base.metadata.
import hotline.storage.account_models
import hotline.storage.people_models
import hotline.storage.policy_models
import hotline.storage.translation_models  # noqa: F401
from hotline.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through hotline.storage.database.upgrade()")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
