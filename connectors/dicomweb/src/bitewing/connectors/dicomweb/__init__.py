"""Bitewing dicomweb connector: any DICOMweb service as a VNA target (STOW-RS to store, QIDO-RS to verify).

`client.make_client` is the one dicomweb-client factory; `connector` holds the ``dicomweb`` connector type;
`plugin` registers it through the ``bitewing`` entry point.
"""
