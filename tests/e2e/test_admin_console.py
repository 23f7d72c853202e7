"""The staff console in a real browser against a real server with the demo practice."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bitewing.core.auth.actor import system_actor
from bitewing.core.demo import DEMO_PASSWORD, DEMO_TENANT
from bitewing.core.patients import services as patients
from bitewing.core.tenancy.models import Tenant
from tests.e2e.conftest import screenshot_dir
from tests.e2e.live_server import LiveServer

pytestmark = pytest.mark.e2e

OWNER = "owner@demo.bitewing.test"
NO_SIDEWAYS_SCROLLING = (
    "[...document.querySelectorAll('.table-wrap')].every((wrap) => wrap.scrollWidth <= wrap.clientWidth)"
)


def add_patients(server: LiveServer, family_name: str, count: int) -> None:
    """Register `count` extra patients in the demo tenant, enough for a second page of results."""
    with server.runtime.db.unit_of_work() as lookup:
        tenant_id = lookup.session.scalar(select(Tenant.id).where(Tenant.name == DEMO_TENANT))
    actor = system_actor(tenant_id, "e2e")
    with server.runtime.db.unit_of_work(tenant_id) as uow:
        for number in range(count):
            patients.create_patient(
                uow,
                actor,
                chart_number=f"PAGE-{number:03d}",
                given_name=f"Test{number:02d}",
                family_name=family_name,
            )


def test_staff_console_sign_in_search_create_sign_out(
    page: Any, demo_server: LiveServer, problems: list[str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    shots = screenshot_dir(tmp_path)
    add_patients(demo_server, "Pagination", 22)

    # Not signed in: the console shows the sign-in form.
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()

    # A wrong password shows the API's problem detail.
    signin = page.locator("#signin-form")
    signin.get_by_label("E-mail").fill(OWNER)
    signin.get_by_label("Password").fill("not-the-password")
    signin.get_by_role("button", name="Sign in").click()
    expect(signin.get_by_role("alert")).to_have_text("wrong e-mail or password")
    page.screenshot(path=shots / "01-sign-in-error.png")

    # Signed in as the owner: the patients screen, with the owner-only Staff link.
    signin.get_by_label("Password").fill(DEMO_PASSWORD)
    signin.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_visible()
    expect(page.locator("#account-name")).to_have_text("Olivia Owner")
    expect(page.get_by_role("link", name="Staff")).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/patients$"))

    # Search a demo patient.
    page.get_by_role("searchbox", name="Search patients").fill("Chen")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#patients-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Chen, Amelia")
    expect(rows.first).to_contain_text("DEMO-1001")
    expect(page.locator("#patients-summary")).to_have_text("Page 1 of 1 · 1 patient")

    # Pagination follows the X-Pagination header.
    page.get_by_role("searchbox", name="Search patients").fill("Pagination")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#patients-summary")).to_have_text("Page 1 of 2 · 22 patients")
    expect(rows).to_have_count(20)
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#patients-summary")).to_have_text("Page 2 of 2 · 22 patients")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("button", name="Next")).to_be_disabled()

    # A bad chart number: the 422 field error is shown beside the field.
    page.get_by_role("button", name="New patient").click()
    form = page.locator("#patient-form")
    form.get_by_label("Chart number").fill("BAD^1")
    form.get_by_label("Given name").fill("Iris")
    form.get_by_label("Family name").fill("Fernandes")
    form.get_by_label("Birth date").fill("1990-04-02")
    form.get_by_label("Primary location").select_option(label="Downtown Clinic")
    form.get_by_role("button", name="Create patient").click()
    chart_error = page.locator("#p-chart-error")
    expect(chart_error).not_to_be_empty()
    expect(form.get_by_label("Chart number")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_role("alert")).to_have_text("Please correct the fields marked below.")
    page.screenshot(path=shots / "02-field-error.png", full_page=True)

    # Corrected, the patient is created and shown.
    form.get_by_label("Chart number").fill("E2E-2001")
    form.get_by_role("button", name="Create patient").click()
    expect(page.locator("#flash")).to_have_text("Created patient Iris Fernandes (chart E2E-2001).")
    expect(form).to_be_hidden()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Fernandes, Iris")
    expect(rows.first).to_contain_text("Downtown Clinic")
    page.screenshot(path=shots / "03-patients.png", full_page=True)

    # Locations and staff screens.
    page.get_by_role("link", name="Locations").click()
    expect(page.get_by_role("heading", name="Locations", exact=True)).to_be_visible()
    expect(page.locator("#locations-rows")).to_contain_text("Lakeside Orthodontics")
    page.get_by_role("link", name="Staff").click()
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
    expect(page.locator("#staff-rows")).to_contain_text("Dr. Daniel Molar")
    staff_form = page.locator("#staff-form")
    staff_form.get_by_label("Full name").fill("Rita Radiographer")
    staff_form.get_by_label("E-mail").fill("rita@demo.bitewing.test")
    staff_form.get_by_label("Role").select_option("hygienist")
    staff_form.get_by_label("Initial password").fill("short")
    staff_form.get_by_role("button", name="Add staff member").click()
    expect(page.locator("#s-password-error")).not_to_be_empty()
    staff_form.get_by_label("Initial password").fill("a-long-enough-passw0rd")
    staff_form.get_by_role("button", name="Add staff member").click()
    expect(page.locator("#flash")).to_have_text("Added Rita Radiographer (Hygienist).")
    page.get_by_role("button", name="Deactivate Rita Radiographer").click()
    expect(page.get_by_role("button", name="Activate Rita Radiographer")).to_be_focused()
    expect(page.locator("#staff-rows tr", has_text="Rita Radiographer")).to_contain_text("Deactivated")
    page.screenshot(path=shots / "04-staff.png", full_page=True)

    # After a reload the session (and its CSRF token) is picked up again: a write still works.
    page.goto("/#/locations")
    page.reload()
    expect(page.get_by_role("heading", name="Locations", exact=True)).to_be_visible()
    location_form = page.locator("#location-form")
    location_form.get_by_label("Name").fill("Harbour Clinic")
    location_form.get_by_label("Country code").fill("ca")
    location_form.get_by_label("Time zone").fill("Mars/Olympus")
    location_form.get_by_role("button", name="Add location").click()
    expect(page.locator("#l-tz-error")).to_contain_text("unknown IANA time zone")
    location_form.get_by_label("Time zone").fill("America/Halifax")
    location_form.get_by_role("button", name="Add location").click()
    expect(page.locator("#flash")).to_have_text("Added location Harbour Clinic.")
    expect(page.locator("#locations-rows")).to_contain_text("America/Halifax")

    # Phone width: still usable, tables stacked.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("searchbox", name="Search patients").fill("Chen")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate(NO_SIDEWAYS_SCROLLING), "a list scrolls sideways at phone width"
    page.screenshot(path=shots / "05-phone.png", full_page=True)
    page.get_by_role("link", name="Staff").click()
    expect(page.locator("#staff-rows")).to_contain_text("Hana Hygienist")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.evaluate(NO_SIDEWAYS_SCROLLING), "a list scrolls sideways at phone width"
    page.screenshot(path=shots / "06-phone-staff.png", full_page=True)

    # Sign out: back to the sign-in form, and a reload does not sign back in.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#flash")).to_have_text("You have signed out.")
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()

    assert problems == []


def test_staff_link_is_hidden_from_non_owners(page: Any, problems: list[str]) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    signin = page.locator("#signin-form")
    signin.get_by_label("E-mail").fill("frontdesk@demo.bitewing.test")
    signin.get_by_label("Password").fill(DEMO_PASSWORD)
    signin.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Staff")).to_be_hidden()
    page.goto("/#/staff")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.get_by_role("link", name="Locations").click()
    expect(page.locator("#locations-rows")).to_contain_text("Downtown Clinic")
    expect(page.locator("#location-new")).to_be_hidden()
    assert problems == []
