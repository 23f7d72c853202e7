"""Bitewing orthanc connector."""
