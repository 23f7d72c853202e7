"""Local-folder objects served at ``/files/<token>``: download names signed into the token."""

from __future__ import annotations

import time
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer

from bitewing.core.plugins.storage import attachment_disposition


def test_a_signed_download_name_is_answered_as_content_disposition(app: Any, runtime: Any) -> None:
    store = runtime.object_store
    store.put("t/archive", b"DICM bytes", "application/dicom")
    client = app.test_client()
    named = client.get(store.presign("t/archive", 60, filename="image-42.dcm"))
    assert named.status_code == 200
    assert named.data == b"DICM bytes"
    assert named.headers["Content-Disposition"] == 'attachment; filename="image-42.dcm"'
    assert named.headers["Referrer-Policy"] == "no-referrer"
    unnamed = client.get(store.presign("t/archive", 60))
    assert unnamed.status_code == 200
    assert "Content-Disposition" not in unnamed.headers


def test_the_download_name_cannot_be_changed_or_outlive_the_link(app: Any, runtime: Any) -> None:
    store = runtime.object_store
    store.put("t/archive", b"DICM bytes", "application/dicom")
    client = app.test_client()
    url = store.presign("t/archive", 60, filename="image-42.dcm")
    assert store.resolve_grant(url.rsplit("/", 1)[1]) == ("t/archive", "image-42.dcm")
    assert client.get(url[:-3] + "abc").status_code == 404
    assert client.get(store.presign("t/archive", -1, filename="image-42.dcm")).status_code == 404


def test_links_are_itsdangerous_url_safe_tokens_and_older_ones_still_open(app: Any, runtime: Any) -> None:
    """The store signs with a faster path than `URLSafeSerializer.dumps`, producing its very tokens: links
    issued before (compressed payloads included) keep working, and a token signed with another key does not."""
    store = runtime.object_store
    store.put("t/archive", b"DICM bytes", "application/dicom")
    serializer = URLSafeSerializer(runtime.settings.secret_key, salt="bitewing.files")
    token = store.presign("t/archive", 60, filename="image-42.dcm").rsplit("/", 1)[1]
    assert serializer.dumps(serializer.loads(token)) == token
    long_key = "t/" + "/".join(["a" * 60] * 6)  # long and repetitive: the serializer compresses it
    store.put(long_key, b"other", "application/dicom")
    older = serializer.dumps({"k": long_key, "e": int(time.time()) + 60})
    assert older.startswith("."), "the serializer compressed this payload"
    assert app.test_client().get(f"/files/{older}").data == b"other"
    forged = URLSafeSerializer("another key", salt="bitewing.files").dumps({"k": "t/archive", "e": 2**40})
    assert app.test_client().get(f"/files/{forged}").status_code == 404


@pytest.mark.parametrize(
    "unsafe", ['a".dcm', "../x.dcm", "a/b.dcm", "Chen Amelia.dcm", "é.dcm", ".hidden", ""]
)
def test_unsafe_download_names_are_refused_when_signing(runtime: Any, unsafe: str) -> None:
    with pytest.raises(ValueError, match="unsafe download filename"):
        runtime.object_store.presign("t/archive", 60, filename=unsafe)


def test_safe_names_are_quoted_as_given() -> None:
    assert attachment_disposition("image-0f1e.dcm") == 'attachment; filename="image-0f1e.dcm"'
    assert attachment_disposition("a_b.C-1") == 'attachment; filename="a_b.C-1"'
    assert attachment_disposition("x" * 200)
    with pytest.raises(ValueError, match="unsafe download filename"):
        attachment_disposition("x" * 201)


def test_the_test_plugins_memory_store_carries_the_name_too() -> None:
    from bitewing_test_plugin import MemoryStore

    url = MemoryStore().presign("k", 60, filename="image-1.dcm")
    assert url == "memory://k?expires_in=60&content_disposition=attachment%3B+filename%3D%22image-1.dcm%22"
    assert MemoryStore().presign("k", 60) == "memory://k?expires_in=60"
