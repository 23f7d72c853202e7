"""X-ray machines (DICOM senders) registered per tenant and location."""
