"""Bitewing core: the Flask app, data model, imaging pipeline, routing, jobs and CLI."""
