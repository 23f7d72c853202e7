"""Entry point of the S3 connector (group ``bitewing``)."""
