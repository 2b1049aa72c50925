"""Alembic's migration environment; a package so that ``migrations.frozen`` imports by name.

The migrations directory sits beside the ``casework`` package (``casework._migrations_dir``), so
whatever puts ``casework`` on ``sys.path`` (the project root) puts ``migrations`` there too.
"""
