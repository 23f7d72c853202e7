"""Bitewing dicomweb connector."""
