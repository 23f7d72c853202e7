"""Targets (VNAs, archives) and the tenant's routing rules: where each image goes."""
