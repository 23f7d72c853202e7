"""The console's imaging screens in a real browser: a patient's images and the viewer, uploads, the inbox and
the ingest errors, against a real server with the demo practice."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bitewing.core.demo import DEMO_PASSWORD, DEMO_TENANT
from bitewing.core.imaging import synthetic
from bitewing.core.ingest.models import IngestSource
from bitewing.core.ingest.services import Origin, receive_instance
from bitewing.core.jobs.runners import InProcessRunner
from bitewing.core.tenancy.models import Tenant
from tests.e2e.conftest import screenshot_dir
from tests.e2e.live_server import LiveServer

pytestmark = pytest.mark.e2e

DENTIST = "dentist@demo.bitewing.test"
FRONT_DESK = "frontdesk@demo.bitewing.test"
PROCESSING_TIMEOUT_MS = 60_000
IMAGE_DETAIL = re.compile(r"/api/v1/images/[0-9a-f-]{36}$")
PATIENT_IMAGES = re.compile(r"/api/v1/patients/[0-9a-f-]{36}/images(\?.*)?$")
EXPIRED = "/files/expired-link"
ALT_TEXT = re.compile(r"^(Bitewing|Periapical|Panoramic|Cephalometric|Intraoral) X-ray, \d{4}-\d{2}-\d{2}$")

# Evaluated in the page through the DevTools protocol (so the console's CSP, which forbids eval, still
# applies to the console itself).
ALL_THUMBNAILS_LOADED = (
    "() => { const imgs = [...document.querySelectorAll('#image-grid img')];"
    " return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0); }"
)
THUMBNAIL_SIZES = (
    "[...document.querySelectorAll('#image-grid img')].map((i) => [i.naturalWidth, i.naturalHeight])"
)
SHOWN_RENDITION = "(name) => document.querySelector('#viewer-image').dataset.rendition === name"
VIEWER_IMAGE_SIZE = (
    "() => { const i = document.querySelector('#viewer-image'); return [i.naturalWidth, i.naturalHeight]; }"
)
GET_JSON = (
    "async (url) => { const r = await fetch(url, {credentials: 'same-origin'}); return await r.json(); }"
)
FETCH_BYTES = """async (url) => {
  const response = await fetch(url, {credentials: 'same-origin'});
  const bytes = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    magic: String.fromCharCode(...bytes.slice(128, 132)),
    size: bytes.length,
  };
}"""
TIMES = "\N{MULTIPLICATION SIGN}"
NO_SIDEWAYS_SCROLLING = "document.documentElement.scrollWidth <= window.innerWidth"


# Fixtures: the same browser page as the console's other test (problems collected, nothing fatal ignored).


# Helpers.


def wait_for_viewer_size(page: Any, width: int, height: int) -> None:
    """Wait until the viewer shows a loaded picture of exactly `width` x `height` pixels."""
    page.wait_for_function(
        "(size) => { const i = document.querySelector('#viewer-image');"
        " return i.complete && i.naturalWidth === size[0] && i.naturalHeight === size[1]; }",
        arg=[width, height],
    )


def demo_tenant_id(server: LiveServer) -> uuid.UUID:
    with server.runtime.db.unit_of_work() as lookup:
        return lookup.session.scalar(select(Tenant.id).where(Tenant.name == DEMO_TENANT))


def send_from_machine(server: LiveServer, data: bytes) -> None:
    """Receive an instance as an X-ray machine would send it, and process it before the test goes on."""
    origin = Origin(source=IngestSource.CSTORE, calling_ae="E2ESENSOR")
    receipt = receive_instance(server.runtime, demo_tenant_id(server), data, origin)
    assert receipt.ok, receipt
    if isinstance(server.runtime.jobs, InProcessRunner):
        server.runtime.jobs.drain()


def sign_in(page: Any, email: str) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    signin = page.locator("#signin-form")
    signin.get_by_label("E-mail").fill(email)
    signin.get_by_label("Password").fill(DEMO_PASSWORD)
    signin.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_visible()


def open_patient(page: Any, family_name: str, full_name: str) -> None:
    from playwright.sync_api import expect

    page.locator("#nav").get_by_role("link", name="Patients").click()
    page.get_by_role("searchbox", name="Search patients").fill(family_name)
    page.get_by_role("button", name="Search").click()
    page.locator("#patients-rows").get_by_role("link", name=full_name).click()
    expect(page.get_by_role("heading", name=full_name, level=1)).to_be_visible()
    expect(page.get_by_role("heading", name=full_name, level=1)).to_be_focused()


def expire_first_answer(page: Any, pattern: re.Pattern[str], rewrite: Any) -> list[str]:
    """Serve the first answer matching `pattern` with its image links replaced by an expired one (as if the
    page had been left open for longer than the links live); later answers are untouched. Returns the URLs
    of every matching request, to count the re-fetches."""
    seen: list[str] = []

    def handle(route: Any) -> None:
        seen.append(route.request.url)
        if len(seen) > 1 or route.request.method != "GET":
            route.continue_()
            return
        response = route.fetch()
        route.fulfill(response=response, body=json.dumps(rewrite(response.json())))

    page.route(pattern, handle)
    return seen


def expire_links(body: Any, names: set[str]) -> Any:
    for image in body if isinstance(body, list) else [body]:
        for rendition in image["renditions"]:
            if rendition["name"] in names:
                rendition["url"] = EXPIRED
    return body


def test_patient_images_viewer_full_resolution_and_download(
    page: Any, demo_server: LiveServer, problems: list[str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shots = screenshot_dir(tmp_path)
    sign_in(page, DENTIST)
    # Every thumbnail link of the first list answer has expired: the grid asks for fresh ones once.
    list_requests = expire_first_answer(page, PATIENT_IMAGES, lambda body: expire_links(body, {"thumbnail"}))
    open_patient(page, "Chen", "Chen, Amelia")

    # The grid: three lazy-loaded thumbnails, no larger than 200 px, described by type and date.
    grid = page.locator("#image-grid")
    thumbs = grid.locator("button.thumb")
    expect(thumbs).to_have_count(3)
    expect(page.locator("#images-summary")).to_have_text("3 images")
    page.wait_for_function(ALL_THUMBNAILS_LOADED)
    assert len(list_requests) == 2, "the expired thumbnails were not re-fetched exactly once"
    page.unroute(PATIENT_IMAGES)
    for width, height in page.evaluate(THUMBNAIL_SIZES):
        assert 0 < width <= 200 and 0 < height <= 200
    for img in grid.locator("img").all():
        assert img.get_attribute("loading") == "lazy"
        assert ALT_TEXT.match(img.get_attribute("alt") or ""), img.get_attribute("alt")
    page.screenshot(path=shots / "10-patient-images.png", full_page=True)

    # Filter by type.
    page.get_by_label("Type").select_option("bitewing")
    expect(thumbs).to_have_count(2)
    expect(page.locator("#images-summary")).to_have_text("2 bitewing images")
    for img in grid.locator("img").all():
        assert (img.get_attribute("alt") or "").startswith("Bitewing X-ray, ")
    page.get_by_label("Type").select_option("cbct")
    expect(thumbs).to_have_count(0)
    expect(page.locator("#images-empty")).to_have_text("No cbct images for this patient.")
    page.get_by_label("Type").select_option("")
    expect(thumbs).to_have_count(3)
    page.wait_for_function(ALL_THUMBNAILS_LOADED)

    # The viewer: the preview first (its first link has expired: the metadata is fetched again, once).
    detail_requests = expire_first_answer(page, IMAGE_DETAIL, lambda body: expire_links(body, {"preview"}))
    first_id = thumbs.first.get_attribute("data-image-id")
    thumbs.first.click()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    expect(page.locator("#viewer-close")).to_be_focused()
    page.wait_for_function(SHOWN_RENDITION, arg="preview")
    assert len(detail_requests) == 2, "the expired preview was not re-fetched exactly once"
    page.unroute(IMAGE_DETAIL)
    width, height = page.evaluate(VIEWER_IMAGE_SIZE)
    assert 0 < width <= 800 and 0 < height <= 800
    image = page.evaluate(GET_JSON, f"/api/v1/images/{first_id}")
    image_alt = page.locator("#image-grid img").first.get_attribute("alt")
    expect(page.locator("#viewer-image")).to_have_attribute("alt", image_alt)
    expect(page.locator("#viewer-title")).to_have_text(image_alt)
    expect(page.locator("#viewer-position")).to_have_text("Image 1 of 3")

    # Details and compression figures.
    meta = page.locator("#viewer-meta")
    expect(meta).to_contain_text(f"{image['columns']} {TIMES} {image['rows']} px")
    expect(meta).to_contain_text(image_alt.split(",")[0])
    compression = page.locator("#viewer-compression")
    expect(compression).to_contain_text("Original")
    expect(compression).to_contain_text("Archive")
    expect(compression).to_contain_text("HTJ2K Lossless")
    ratio = image["original_bytes"] / image["archive_bytes"]
    expect(compression).to_contain_text(f"{ratio:.1f} : 1" if ratio < 10 else f"{ratio:.0f} : 1")
    expect(compression).to_contain_text("Full rendition")
    expect(page.locator("#viewer-deliveries")).to_contain_text("Not sent to any archive or VNA.")
    page.screenshot(path=shots / "11-viewer-preview.png")

    # Full resolution on demand: the image's own pixel size.
    page.get_by_role("button", name="Full resolution").click()
    page.wait_for_function(SHOWN_RENDITION, arg="full")
    wait_for_viewer_size(page, image["columns"], image["rows"])
    expect(page.locator("#viewer-status")).to_have_text(
        f"Full resolution, {image['columns']} {TIMES} {image['rows']} px"
    )
    page.screenshot(path=shots / "12-viewer-full.png")

    # Download DICOM: the archived Part-10 file.
    download_link = viewer.get_by_role("link", name="Download DICOM")
    expect(download_link).to_be_visible()
    fetched = page.evaluate(FETCH_BYTES, download_link.get_attribute("href"))
    assert fetched["status"] == 200
    assert fetched["type"] == "application/dicom"
    assert fetched["magic"] == "DICM"
    assert fetched["size"] == image["archive_bytes"]
    with page.expect_download() as download_info:
        download_link.click()
    assert download_info.value.suggested_filename.endswith(".dcm")

    # Keyboard: arrows move between the images, zoom loads the full rendition, Esc closes and the focus
    # goes back to the thumbnail of the image shown last.
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-position")).to_have_text("Image 2 of 3")
    page.wait_for_function(SHOWN_RENDITION, arg="preview")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#viewer-position")).to_have_text("Image 1 of 3")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-position")).to_have_text("Image 2 of 3")
    second_id = thumbs.nth(1).get_attribute("data-image-id")
    second = page.evaluate(GET_JSON, f"/api/v1/images/{second_id}")
    page.get_by_role("button", name="Actual size").click()
    page.wait_for_function(SHOWN_RENDITION, arg="full")
    wait_for_viewer_size(page, second["columns"], second["rows"])
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(thumbs.nth(1)).to_be_focused()

    assert problems == []


def test_actual_size_asked_while_the_preview_loads_shows_the_full_rendition(
    page: Any, demo_server: LiveServer, problems: list[str]
) -> None:
    """The full rendition waits for the preview: loaded at the same time into the one <img>, the later load
    event answered both, and the viewer could call the preview "full" (a race seen under load)."""
    from playwright.sync_api import expect

    sign_in(page, DENTIST)
    open_patient(page, "Chen", "Chen, Amelia")
    thumbs = page.locator("#image-grid button.thumb")
    expect(thumbs).to_have_count(3)
    page.wait_for_function(ALL_THUMBNAILS_LOADED)
    thumbnails = set(page.evaluate("[...document.querySelectorAll('#image-grid img')].map((i) => i.src)"))
    image = page.evaluate(GET_JSON, f"/api/v1/images/{thumbs.first.get_attribute('data-image-id')}")
    held: list[Any] = []
    asked: list[str] = []

    def hold_the_preview(route: Any) -> None:
        if route.request.url in thumbnails:
            route.continue_()
        elif not held:
            held.append(route)
        else:
            asked.append(route.request.url)
            route.continue_()

    page.route(re.compile(r"/files/"), hold_the_preview)
    thumbs.first.click()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the viewer did not ask for the preview"
    page.get_by_role("button", name="Actual size").click()
    page.wait_for_timeout(500)
    assert asked == [], "the full rendition was asked for while the preview was still loading"

    held[0].continue_()
    page.wait_for_function(SHOWN_RENDITION, arg="full")
    wait_for_viewer_size(page, image["columns"], image["rows"])
    expect(page.locator("#viewer-status")).to_have_text(
        f"Full resolution, {image['columns']} {TIMES} {image['rows']} px"
    )
    assert len(asked) == 1, asked
    page.unroute(re.compile(r"/files/"))
    assert problems == []


def test_upload_shows_each_file_and_files_the_new_image(
    page: Any, demo_server: LiveServer, problems: list[str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shots = screenshot_dir(tmp_path)
    good = synthetic.to_bytes(
        synthetic.make_instance(
            "panoramic",
            patient_id="DEMO-1001",
            patient_name="Chen^Amelia",
            birth_date="19860314",
            seed=7,
            shape=(240, 480),
        )
    )
    sign_in(page, DENTIST)
    open_patient(page, "Chen", "Chen, Amelia")
    expect(page.locator("#image-grid button.thumb")).to_have_count(3)

    page.get_by_role("button", name="Upload X-rays").click()
    panel = page.locator("#patient-upload")
    expect(panel).to_be_visible()
    expect(panel.get_by_label("Choose DICOM files")).to_be_focused()
    panel.get_by_label("Choose DICOM files").set_input_files(
        [
            {"name": "pano-chen.dcm", "mimeType": "application/dicom", "buffer": good},
            {"name": "notes.dcm", "mimeType": "application/dicom", "buffer": b"these are not X-ray pixels"},
        ]
    )
    expect(panel.locator(".file-list li")).to_have_count(2)
    panel.get_by_role("button", name=re.compile(r"^Upload 2 files")).click()

    results = panel.locator(".results li")
    expect(results).to_have_count(2)
    expect(panel.locator(".results-summary")).to_have_text("1 received, 1 rejected")
    received = results.filter(has_text="pano-chen.dcm")
    rejected = results.filter(has_text="notes.dcm")
    expect(received.locator(".state")).to_have_text("Received")
    expect(rejected.locator(".state")).to_have_text("Rejected")
    expect(rejected).to_contain_text("not_dicom")
    expect(rejected).to_contain_text("neither a DICOM Part-10 file nor a raw DICOM dataset")
    expect(panel.locator("progress")).to_have_attribute("value", "100")

    # After processing, the result says where the image went and the grid shows it.
    expect(received).to_contain_text(
        "Panoramic X-ray added to this patient's images.", timeout=PROCESSING_TIMEOUT_MS
    )
    expect(page.locator("#image-grid button.thumb")).to_have_count(4, timeout=PROCESSING_TIMEOUT_MS)
    expect(page.locator("#image-grid img[alt^='Panoramic X-ray, ']")).to_have_count(1)
    page.wait_for_function(ALL_THUMBNAILS_LOADED)
    page.screenshot(path=shots / "20-upload-results.png", full_page=True)

    # The general upload page: a file that is all rejected still gets its own line (the API answers 422).
    page.locator("#nav").get_by_role("link", name="Upload").click()
    uploader = page.locator("#general-uploader")
    uploader.get_by_label("Choose DICOM files").set_input_files(
        [{"name": "truncated.dcm", "mimeType": "application/dicom", "buffer": good[:2000]}]
    )
    uploader.get_by_role("button", name=re.compile(r"^Upload 1 file")).click()
    expect(uploader.locator(".results li")).to_have_count(1)
    expect(uploader.locator(".results li .state")).to_have_text("Rejected")
    expect(uploader.locator(".results li .result-note")).not_to_be_empty()

    # The ingest-errors screen lists both refused files with their reasons.
    page.locator("#nav").get_by_role("link", name="Ingest errors").click()
    expect(page.get_by_role("heading", name="Ingest errors", exact=True)).to_be_visible()
    rows = page.locator("#ingest-errors-rows tr")
    expect(rows).to_have_count(2)
    notes = rows.filter(has_text="notes.dcm")
    expect(notes).to_contain_text("not_dicom")
    expect(notes).to_contain_text("Upload")
    expect(rows.filter(has_text="truncated.dcm")).to_have_count(1)
    page.screenshot(path=shots / "21-ingest-errors.png", full_page=True)

    assert problems == []


def test_inbox_lists_an_unknown_patient_and_assigning_files_it(
    page: Any, demo_server: LiveServer, problems: list[str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shots = screenshot_dir(tmp_path)
    send_from_machine(
        demo_server,
        synthetic.to_bytes(
            synthetic.make_instance(
                "panoramic",
                patient_id="WALKIN-77",
                patient_name="Stranger^Sam",
                birth_date="19700101",
                seed=3,
                shape=(240, 480),
            )
        ),
    )
    sign_in(page, DENTIST)
    expect(page.locator("#inbox-count")).to_have_text("1")
    page.locator("#nav").get_by_role("link", name=re.compile("^Inbox")).click()
    expect(page.get_by_role("heading", name="Inbox", exact=True)).to_be_visible()
    rows = page.locator("#inbox-rows tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text("Stranger, Sam")
    expect(row).to_contain_text("WALKIN-77")
    expect(row).to_contain_text("No match")
    expect(row).to_contain_text("no patient with this chart number")
    page.wait_for_function("() => document.querySelector('#inbox-rows img').naturalWidth > 0")
    image_id = row.get_attribute("data-image-id")
    page.screenshot(path=shots / "30-inbox.png", full_page=True)

    # A closer look in the viewer before deciding.
    row.locator("button.thumb").click()
    page.wait_for_function(SHOWN_RENDITION, arg="preview")
    expect(page.locator("#viewer-meta")).to_contain_text("no patient with this chart number")
    page.keyboard.press("Escape")
    expect(row.locator("button.thumb")).to_be_focused()

    # Assign: search a patient (the family name the machine sent comes first), choose, assign.
    row.get_by_role("button", name=re.compile("^Assign")).click()
    dialog = page.get_by_role("dialog", name="Assign to a patient")
    expect(dialog).to_be_visible()
    search = dialog.get_by_label("Find the patient")
    expect(search).to_be_focused()
    expect(search).to_have_value("Stranger")
    expect(dialog.locator("#assign-results")).to_contain_text("No patients match “Stranger”.")
    expect(dialog.get_by_role("button", name="Assign image")).to_be_disabled()
    search.fill("Martin")
    search.press("Enter")
    dialog.get_by_role("radio", name=re.compile("Martin, Lucas")).check()
    page.screenshot(path=shots / "31-assign.png")
    dialog.get_by_role("button", name="Assign image").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#flash")).to_have_text(
        re.compile(r"^Assigned Panoramic X-ray, .* to Martin, Lucas\.$")
    )
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Nothing waiting")
    expect(page.locator("#inbox-count")).to_be_hidden()

    # It is now one of Martin's images.
    assigned = page.evaluate(GET_JSON, f"/api/v1/images/{image_id}")
    assert assigned["match_status"] == "manual"
    open_patient(page, "Martin", "Martin, Lucas")
    expect(page.locator(f"#image-grid button[data-image-id='{image_id}']")).to_have_count(1)
    assert assigned["patient_id"] in page.url

    # Phone width: the inbox stays usable without sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#nav").get_by_role("link", name=re.compile("^Inbox")).click()
    expect(rows.first).to_contain_text("Nothing waiting")
    assert page.evaluate(NO_SIDEWAYS_SCROLLING)

    assert problems == []


SLICE_SHOWN = (
    "(n) => { const i = document.querySelector('#viewer-image');"
    " return i.dataset.rendition === 'slice' && i.dataset.frame === String(n)"
    " && i.complete && i.naturalWidth > 0; }"
)


def test_a_volume_has_a_slice_slider_that_renders_any_slice(
    page: Any, demo_server: LiveServer, problems: list[str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    sign_in(page, DENTIST)
    open_patient(page, "Tremblay", "Tremblay, Zoë")
    page.get_by_label("Type").select_option("cbct")
    thumbs = page.locator("#image-grid button.thumb")
    expect(thumbs).to_have_count(1)
    image_id = thumbs.first.get_attribute("data-image-id")
    image = page.evaluate(GET_JSON, f"/api/v1/images/{image_id}")
    count = image["frames"]
    assert count > 20
    thumbs.first.click()
    page.wait_for_function(SHOWN_RENDITION, arg="preview")
    slider = page.locator("#viewer-slice")
    expect(slider).to_be_visible()
    middle = count // 2 + 1
    expect(page.locator("#viewer-slice-label")).to_have_text(f"Slice {middle} of {count}")
    expect(slider).to_have_attribute("max", str(count))

    # Moving the slider loads that slice from DICOMweb, fitted to the stage.
    image_url = re.compile(
        rf"/dicomweb/studies/{re.escape(image['study_instance_uid'])}/series/"
        rf"{re.escape(image['series_instance_uid'])}/instances/{re.escape(image['sop_instance_uid'])}"
        r"/frames/(\d+)/rendered\?viewport=\d+,\d+$"
    )
    slider.fill("3")
    expect(page.locator("#viewer-slice-label")).to_have_text(f"Slice 3 of {count}")
    page.wait_for_function(SLICE_SHOWN, arg=3)
    src = page.locator("#viewer-image").get_attribute("src") or ""
    match = image_url.search(src)
    assert match and match.group(1) == "3", src
    first = page.evaluate("() => document.querySelector('#viewer-image').src")
    expect(page.locator("#viewer-status")).to_contain_text(f"Slice 3 of {count}")

    # The keyboard: up one slice, page down ten (never below the first).
    page.locator("#viewer-close").focus()
    page.keyboard.press("ArrowUp")
    expect(page.locator("#viewer-slice-label")).to_have_text(f"Slice 4 of {count}")
    page.wait_for_function(SLICE_SHOWN, arg=4)
    assert page.evaluate("() => document.querySelector('#viewer-image').src") != first
    page.keyboard.press("PageDown")
    expect(page.locator("#viewer-slice-label")).to_have_text(f"Slice 1 of {count}")
    page.wait_for_function(SLICE_SHOWN, arg=1)
    # A quick run of moves only fetches where the slider came to rest.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url) if "/rendered" in request.url else None)
    for _ in range(6):
        page.keyboard.press("ArrowUp")
    page.wait_for_function(SLICE_SHOWN, arg=7)
    assert [image_url.search(url).group(1) for url in requests] == ["7"]  # type: ignore[union-attr]
    width, height = page.evaluate(VIEWER_IMAGE_SIZE)
    assert (width, height) == (image["columns"], image["rows"])
    page.screenshot(path=screenshot_dir(tmp_path) / "15-viewer-slice.png")

    # Single-frame images have no slider.
    page.keyboard.press("Escape")
    page.get_by_label("Type").select_option("")
    expect(thumbs).to_have_count(2)
    page.locator(f"#image-grid button.thumb:not([data-image-id='{image_id}'])").click()
    page.wait_for_function(SHOWN_RENDITION, arg="preview")
    expect(slider).to_be_hidden()
    assert problems == []


def test_front_desk_sees_images_but_cannot_download(page: Any, problems: list[str]) -> None:
    from playwright.sync_api import expect

    sign_in(page, FRONT_DESK)
    open_patient(page, "Martin", "Martin, Lucas")
    thumbs = page.locator("#image-grid button.thumb")
    expect(thumbs).to_have_count(2)
    thumbs.first.click()
    page.wait_for_function(SHOWN_RENDITION, arg="preview")
    expect(page.locator("#viewer-compression")).to_contain_text("Archive")
    expect(page.get_by_role("link", name="Download DICOM")).to_be_hidden()
    page.get_by_role("button", name="Close").click()
    expect(thumbs.first).to_be_focused()
    assert problems == []


def test_the_console_lets_images_come_from_the_object_store_only() -> None:
    from bitewing.admin.views import AWS_S3_ORIGIN, content_security_policy, image_origins

    assert image_origins("file:///srv/objects", None) == ()
    assert image_origins("s3://bucket/prefix", "https://minio.example.test:9000/path") == (
        "https://minio.example.test:9000",
    )
    assert image_origins("s3://bucket", None) == (AWS_S3_ORIGIN,)
    policy = content_security_policy(("https://minio.example.test:9000",))
    assert "img-src 'self' data: https://minio.example.test:9000;" in policy
    assert "script-src 'self';" in policy


def test_a_slice_chosen_while_the_preview_loads_is_not_covered_by_the_preview(
    page: Any, demo_server: LiveServer, problems: list[str]
) -> None:
    """The slice waits for the preview and is then shown: loaded side by side into the one <img>, the
    preview could arrive after the slice the user chose and cover it (or the later load event answer both
    and label the picture wrongly)."""
    from playwright.sync_api import expect

    sign_in(page, DENTIST)
    open_patient(page, "Tremblay", "Tremblay, Zoë")
    page.get_by_label("Type").select_option("cbct")
    thumbs = page.locator("#image-grid button.thumb")
    expect(thumbs).to_have_count(1)
    page.wait_for_function(ALL_THUMBNAILS_LOADED)
    thumbnails = set(page.evaluate("[...document.querySelectorAll('#image-grid img')].map((i) => i.src)"))
    count = page.evaluate(GET_JSON, f"/api/v1/images/{thumbs.first.get_attribute('data-image-id')}")["frames"]
    held: list[Any] = []
    slices: list[str] = []
    page.route(
        re.compile(r"/files/"),
        lambda route: route.continue_() if route.request.url in thumbnails or held else held.append(route),
    )
    page.on("request", lambda request: slices.append(request.url) if "/rendered" in request.url else None)
    thumbs.first.click()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the viewer did not ask for the preview"
    page.locator("#viewer-slice").fill("3")
    expect(page.locator("#viewer-slice-label")).to_have_text(f"Slice 3 of {count}")
    page.wait_for_timeout(600)
    assert slices == [], "the slice was asked for while the preview was still loading"

    held[0].continue_()
    page.wait_for_function(SLICE_SHOWN, arg=3)
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.querySelector('#viewer-image').dataset.rendition") == "slice"
    expect(page.locator("#viewer-status")).to_contain_text(f"Slice 3 of {count}")
    assert len(slices) == 1, slices
    page.unroute(re.compile(r"/files/"))
    assert problems == []
