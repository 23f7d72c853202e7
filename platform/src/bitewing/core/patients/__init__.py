"""Patients of a practice group."""
