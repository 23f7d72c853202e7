"""Staff users, login sessions and API tokens."""
