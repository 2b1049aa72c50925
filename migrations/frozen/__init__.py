"""Code the migrations run, frozen: copied out of the application as it was, never imported from it.

A migration must mean tomorrow what it means today. Nothing under ``migrations/`` imports
``casework`` (tests/test_migrations.py checks it): when the application's SQL, types or crypto
change, a database built from scratch still gets exactly what these files say.

Rules:

* never change a module here once a revision uses it (a fix that must reach existing databases
  is a new revision, with its own copy if it needs one);
* a module says which revisions use it and when it was taken from the application;
* standard library, SQLAlchemy, Alembic and cryptography only.

Import as ``from migrations.frozen import roles`` (see ``migrations/__init__.py``).
"""
