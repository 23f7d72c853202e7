"""Durable deliveries of images to targets: the outbox, retries, dead letters and the sweeper."""
