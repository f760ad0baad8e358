"""Persistence for the engine: SQLAlchemy tables, repositories, unit of work, migrations."""
