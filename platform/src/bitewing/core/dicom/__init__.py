"""DICOM network doors: the C-STORE listener (`bitewing.core.dicom.listener`)."""
