"""The REST API (`/api/v1`): flask-smorest setup, authentication, errors and the resource blueprints."""
