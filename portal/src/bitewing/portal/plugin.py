"""Entry point of the patient portal."""
