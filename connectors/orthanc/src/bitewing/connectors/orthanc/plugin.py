"""Entry point of the orthanc connector (group ``bitewing``): its hook implementations live here."""
