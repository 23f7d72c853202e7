"""Built-in connector types of the core (registered like any plugin): `cstore`, DICOM C-STORE via pynetdicom."""
