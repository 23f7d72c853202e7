"""Entry point of the dicomweb connector (group ``bitewing``): its hook implementations live here."""
