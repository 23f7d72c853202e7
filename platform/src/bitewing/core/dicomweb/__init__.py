"""DICOMweb (PS3.18) for the caller's tenant at ``/dicomweb``: STOW-RS, QIDO-RS and WADO-RS.

`multipart` reads and writes ``multipart/related`` bodies, `query` parses QIDO-RS queries and runs them,
`dicomjson` builds DICOM JSON, `retrieve` negotiates transfer syntaxes and streams Part-10 bytes, `frames`
reads single frames (decoded or as stored) for frame retrieval, `services`
ties them to the ingest door, the image tables and the audit log, and `views` is the thin HTTP layer.
"""
