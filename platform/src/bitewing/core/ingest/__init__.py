"""Receiving DICOM durably (spool, then acknowledge) and processing it into images."""
