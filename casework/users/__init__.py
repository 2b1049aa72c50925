"""User accounts and their roles (admin-managed)."""
