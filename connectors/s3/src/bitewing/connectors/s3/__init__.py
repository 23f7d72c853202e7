"""Bitewing S3 connector: S3-compatible object storage for images and an archive target."""
