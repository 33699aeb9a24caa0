"""Alembic environment, run programmatically by registry_service.migrate (no alembic.ini).

The caller passes an open connection in config.attributes["connection"].
"""

from alembic import context

from registry_service.migrate import include_name
from registry_service.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_name=include_name,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
