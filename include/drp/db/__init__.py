"""Database access and schema migrations for the platform database."""
