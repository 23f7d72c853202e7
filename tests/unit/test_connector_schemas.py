"""The four VNA connector types: found through the plugin manager, their configuration schemas, socket options."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from marshmallow import Schema, ValidationError

from bitewing.core.plugins.connectors import Connection, ConnectorError, ConnectorType
from bitewing.core.plugins.manager import build_plugins

NAMES = {"orthanc", "dicomweb", "cstore", "s3"}

VALID: dict[str, dict[str, Any]] = {
    "orthanc": {"url": "https://pacs.example:8042", "username": "bitewing", "password": "s3cret"},
    "dicomweb": {
        "url": "http://pacs.example:8042/dicom-web",
        "auth": "basic",
        "username": "u",
        "password": "p",
    },
    "cstore": {"host": "pacs.example", "port": 104, "called_ae": "ORTHANC"},
    "s3": {
        "bucket": "practice-archive",
        "prefix": "dicom/practice-1",
        "endpoint_url": "http://127.0.0.1:8333",
        "access_key_id": "AKIA",
        "secret_access_key": "secret",
    },
}

SECRETS = {
    "orthanc": {"password"},
    "dicomweb": {"password", "token"},
    "cstore": {"tls_key_pem"},
    "s3": {"secret_access_key"},
}


@pytest.fixture(scope="module")
def types() -> dict[str, ConnectorType]:
    return build_plugins().connector_types()


def load(types: dict[str, ConnectorType], name: str, **changes: Any) -> dict[str, Any]:
    config = {**VALID[name], **changes}
    loaded: dict[str, Any] = (
        types[name].config_schema().load({k: v for k, v in config.items() if v is not ...})
    )
    return loaded


def errors(types: dict[str, ConnectorType], name: str, **changes: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as exc:
        load(types, name, **changes)
    messages = exc.value.messages
    assert isinstance(messages, dict)
    return messages


def test_every_connector_type_is_found(types: dict[str, ConnectorType]) -> None:
    assert set(types) >= NAMES
    for name in NAMES:
        connector_type = types[name]
        assert connector_type.name == name
        assert connector_type.title
        assert issubclass(connector_type.config_schema, Schema)


def test_cstore_is_a_built_in_plugin() -> None:
    types = build_plugins(autoload=False).connector_types()
    assert "cstore" in types
    assert not {"orthanc", "dicomweb", "s3"} & set(types)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_secret_fields_are_declared_schema_fields(types: dict[str, ConnectorType], name: str) -> None:
    connector_type = types[name]
    assert connector_type.secret_fields == SECRETS[name]
    assert connector_type.secret_fields <= set(connector_type.config_schema().fields)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_valid_configuration_loads_and_reloads_unchanged(types: dict[str, ConnectorType], name: str) -> None:
    schema = types[name].config_schema()
    loaded = load(types, name)
    assert schema.load(loaded) == loaded
    assert schema.load(schema.dump(loaded)) == loaded  # the core stores the dumped form and loads it again


@pytest.mark.parametrize("name", sorted(NAMES))
def test_unknown_fields_are_refused(types: dict[str, ConnectorType], name: str) -> None:
    assert errors(types, name, colour="blue") == {"colour": ["Unknown field."]}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_open_refuses_an_invalid_configuration_for_good(types: dict[str, ConnectorType], name: str) -> None:
    with pytest.raises(ConnectorError) as exc:
        types[name].open({**VALID[name], "colour": "blue"})
    assert not exc.value.retryable
    assert "colour" in exc.value.message


@pytest.mark.parametrize("name", sorted(NAMES))
def test_open_does_not_connect(types: dict[str, ConnectorType], name: str) -> None:
    connection = types[name].open(VALID[name])
    assert isinstance(connection, Connection)
    connection.close()


def test_defaults(types: dict[str, ConnectorType]) -> None:
    assert load(types, "orthanc", url="http://pacs.example:8042/")["url"] == "http://pacs.example:8042"
    assert load(types, "orthanc") | {"password": None} == {
        "url": "https://pacs.example:8042",
        "username": "bitewing",
        "password": None,
        "verify_tls": True,
        "timeout": 30.0,
    }
    cstore = load(types, "cstore")
    assert (cstore["calling_ae"], cstore["tls"], cstore["timeout"]) == ("BITEWING", False, 30.0)
    assert load(types, "dicomweb", auth=..., username=..., password=...)["auth"] == "none"
    assert load(types, "s3", prefix="/dicom/")["prefix"] == "dicom"
    assert types["orthanc"].can_poll
    assert not any(types[name].can_poll for name in ("dicomweb", "cstore", "s3"))


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("orthanc", "pacs.example:8042"),
        ("orthanc", "ftp://pacs.example"),
        ("orthanc", "http://"),
        ("orthanc", "http://user:pw@pacs.example:8042"),
        ("orthanc", "http://pacs.example:8042/?x=1"),
        ("dicomweb", "not a url"),
        ("dicomweb", "file:///etc/passwd"),
    ],
)
def test_bad_urls_are_refused(types: dict[str, ConnectorType], name: str, url: str) -> None:
    assert set(errors(types, name, url=url)) == {"url"}


def test_url_messages_say_what_to_enter(types: dict[str, ConnectorType]) -> None:
    assert errors(types, "orthanc", url="pacs")["url"] == [
        "Enter the full address of the Orthanc server, e.g. https://pacs.example:8042."
    ]
    assert errors(types, "s3", endpoint_url="s3.example")["endpoint_url"] == [
        "Enter the endpoint's full address, e.g. https://s3.example:9000 (empty for AWS)."
    ]


@pytest.mark.parametrize("port", [0, -1, 65536, "104", "abc", 104.5, None])
def test_bad_ports_are_refused(types: dict[str, ConnectorType], port: Any) -> None:
    assert set(errors(types, "cstore", port=port)) == {"port"}


def test_port_range_message(types: dict[str, ConnectorType]) -> None:
    assert errors(types, "cstore", port=70000)["port"] == ["The port must be between 1 and 65535."]


@pytest.mark.parametrize("host", ["http://pacs.example", "pacs.example:104", "pacs example", "-pacs", ""])
def test_bad_hosts_are_refused(types: dict[str, ConnectorType], host: str) -> None:
    assert set(errors(types, "cstore", host=host)) == {"host"}


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "pacs", "pacs-1.clinic.example"])
def test_hosts_and_addresses_are_accepted(types: dict[str, ConnectorType], host: str) -> None:
    assert load(types, "cstore", host=host)["host"] == host


@pytest.mark.parametrize("title", ["", "   ", "A" * 17, "BACK\\SLASH", "TAB\tAE", "ÉCOLE"])
def test_bad_ae_titles_are_refused(types: dict[str, ConnectorType], title: str) -> None:
    assert set(errors(types, "cstore", called_ae=title)) == {"called_ae"}
    assert set(errors(types, "cstore", calling_ae=title)) == {"calling_ae"}


def test_cstore_tls_material(types: dict[str, ConnectorType]) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert set(errors(types, "cstore", tls_ca_pem=pem)) == {"tls"}  # certificates without TLS
    assert set(errors(types, "cstore", tls=True, tls_cert_pem=pem)) == {"tls_key_pem"}
    assert set(errors(types, "cstore", tls=True, tls_ca_pem="not pem")) == {"tls_ca_pem"}
    assert load(types, "cstore", tls=True, tls_ca_pem=pem)["tls_ca_pem"] == pem


def test_dicomweb_auth_needs_its_credentials(types: dict[str, ConnectorType]) -> None:
    assert errors(types, "dicomweb", username=None) == {
        "username": ["Basic authentication needs a user name."]
    }
    assert errors(types, "dicomweb", auth="bearer") == {
        "token": ["Bearer authentication needs an access token."]
    }
    assert set(errors(types, "dicomweb", auth="digest")) == {"auth"}
    assert set(errors(types, "dicomweb", stow_prefix="/stow/")) == {"stow_prefix"}
    assert load(types, "dicomweb", qido_prefix="rs/qido")["qido_prefix"] == "rs/qido"


def test_orthanc_password_needs_a_user_name(types: dict[str, ConnectorType]) -> None:
    assert set(errors(types, "orthanc", username=None)) == {"username"}
    assert load(types, "orthanc", username=..., password=...)["username"] is None  # no login at all is fine


@pytest.mark.parametrize("timeout", [0, 0.5, 601, "soon"])
@pytest.mark.parametrize("name", ["orthanc", "dicomweb", "cstore"])
def test_bad_timeouts_are_refused(types: dict[str, ConnectorType], name: str, timeout: Any) -> None:
    assert set(errors(types, name, timeout=timeout)) == {"timeout"}


@pytest.mark.parametrize(
    "changes",
    [
        {"bucket": "Bad_Bucket"},
        {"bucket": "ab"},
        {"bucket": "a..b"},
        {"prefix": "a/../b"},
        {"prefix": "a//b"},
        {"sse": "rot13"},
        {"region": "Europe West"},
        {"secret_access_key": None},
    ],
)
def test_bad_s3_settings_are_refused(types: dict[str, ConnectorType], changes: dict[str, Any]) -> None:
    assert errors(types, "s3", **changes)


def test_s3_defaults_to_the_credential_chain_without_keys(types: dict[str, ConnectorType]) -> None:
    loaded = load(
        types, "s3", access_key_id=..., secret_access_key=..., endpoint_url=..., sse="aws:kms:key-1"
    )
    assert (loaded["access_key_id"], loaded["endpoint_url"], loaded["sse"]) == (None, None, "aws:kms:key-1")


def test_http_connectors_switch_off_nagle() -> None:
    from bitewing.connectors.dicomweb.client import DicomwebSettings
    from bitewing.connectors.dicomweb.client import make_session as dicomweb_session
    from bitewing.connectors.orthanc.client import OrthancSettings
    from bitewing.connectors.orthanc.client import make_session as orthanc_session

    for session in (
        orthanc_session(OrthancSettings(url="http://127.0.0.1:1")),
        dicomweb_session(DicomwebSettings(url="http://127.0.0.1:1")),
    ):
        with session:
            options = session.get_adapter("http://x").poolmanager.connection_pool_kw["socket_options"]
            assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in options
