"""Database access: declarative base, engine, unit of work and tenant scoping."""
