"""Bitewing S3 connector: S3-compatible object storage for images and an archive target.

`store.S3ObjectStore` implements the object-store interface; `target.S3ArchiveType` is the ``s3`` archive
connector type; `client.make_client` is the one boto3 client factory for both; `plugin` registers the ``s3://``
scheme and the connector type through the ``bitewing`` entry point.
"""
