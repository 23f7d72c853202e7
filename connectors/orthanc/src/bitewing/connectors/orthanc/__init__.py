"""Bitewing orthanc connector: an Orthanc server as a VNA target and source, through its REST API.

`client.make_session` is the one HTTP session factory (and `OrthancClient` turns answers into
`ConnectorError`s); `connector` holds the ``orthanc`` connector type; `plugin` registers it through the
``bitewing`` entry point.
"""
