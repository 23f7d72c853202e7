"""Tenants (practice groups) and their locations."""
