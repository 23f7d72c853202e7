"""Entry point of the admin console."""
