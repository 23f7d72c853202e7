"""Bitewing S3 connector: S3-compatible object storage for images and an archive target.

`store.S3ObjectStore` implements the object-store interface; `client.make_client` is the one boto3 client
factory; `plugin` registers the ``s3://`` scheme through the ``bitewing`` entry point.
"""
