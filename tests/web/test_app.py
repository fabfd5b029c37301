"""The web app's flows in Chromium, on each backend: a patient's diary, courses and summary;
offline writes that go up once (and only once); two devices of one patient; a conflict shown;
a clinician linking a patient and reading the report; accessibility and the CSP on every
screen."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Response, expect

from tests.reliability.live_server import LiveServer, poll_until
from tests.web.conftest import (
    PASSWORD,
    WAIT_MS,
    Account,
    Device,
    at_noon,
    check_accessibility,
    screenshot,
    sign_in,
    sign_in_with_form,
    today,
)

OFFLINE_ERROR = r"ERR_INTERNET_DISCONNECTED"

CHART_LOADED = """() => {
  const image = document.querySelector('img.chart');
  return image !== null && image.complete && image.naturalWidth > 0;
}"""


def seed_course_history(account: Account, start: dt.date) -> None:
    """A week at pain 7 before ``start``, pain 3 on each day from ``start`` to yesterday."""
    items = [
        {"id": str(uuid.uuid4()), "recorded_at": at_noon(start - dt.timedelta(days=d)), "pain": 7}
        for d in range(1, 8)
    ] + [
        {"id": str(uuid.uuid4()), "recorded_at": at_noon(day), "pain": 3}
        for day in (start + dt.timedelta(days=d) for d in range((today() - start).days))
    ]
    response = account.send("POST", "/v1/patients/me/entries/batch", {"items": items})
    assert response.status_code == 200, response.text
    assert {r["status"] for r in response.json()["results"]} == {"created"}


def save_entry(d: Device, pain: int, *, sleep: str = "", stress: str = "", tags: str = "") -> None:
    page = d.page
    page.get_by_label("Pain", exact=True).fill(str(pain))
    if sleep:
        page.get_by_label("Sleep (hours)").fill(sleep)
    if stress:
        page.get_by_label("Stress").fill(stress)
    if tags:
        page.get_by_label("Tags").fill(tags)
    page.get_by_role("button", name="Save entry").click()


def wait_uploaded(d: Device, entries: int) -> None:
    """Until the diary lists ``entries`` entries and none waits for upload (an entry shows
    its pending badge from the moment it is saved until the server has it)."""
    expect(d.page.locator("ul.entries > li.entry")).to_have_count(entries)
    expect(d.page.locator("ul.entries .badge.pending")).to_have_count(0)
    expect(d.page.locator("#sync-status")).to_have_text("All saved")


def test_patient_keeps_a_diary_and_reads_the_summary(
    device: Callable[[], Device], server: LiveServer, make_account: Callable[..., Account]
) -> None:
    phone = device()
    page = phone.page
    phone.open()
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    check_accessibility(page, "sign-in")
    screenshot(page, "sign-in")

    email = f"patient-{uuid.uuid4().hex[:10]}@example.org"
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    role = page.get_by_role("group", name="Role")
    expect(role.get_by_role("radio", name="Patient")).to_be_checked()
    page.get_by_label("Your name (optional)").fill("Alex Example")
    check_accessibility(page, "create account")
    screenshot(page, "create-account")
    role.get_by_role("radio", name="Patient").check()
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Diary", level=1)).to_be_visible()
    account = sign_in(server.base_url, email)
    me = account.get("/v1/me").json()
    assert (me["role"], me["display_name"], me["timezone"]) == (
        "patient",
        "Alex Example",
        "Europe/Berlin",
    )

    # A new entry's pain is never a default: saving before choosing one is refused.
    slider = page.get_by_label("Pain", exact=True)
    expect(slider).to_have_attribute("aria-valuetext", "not chosen yet")
    page.get_by_role("button", name="Save entry").click()
    expect(page.locator("p.error[role=alert]")).to_contain_text("choose your pain from 0 to 10")
    expect(page.locator("ul.entries > li.entry")).to_have_count(0)
    assert account.entries() == []

    # The first entry, a second one; then the first edited and the second deleted.
    page.locator("details.more summary").click()
    page.get_by_label("Neck").check()
    save_entry(phone, 6, sleep="6.5", stress="4", tags="long drive, weather")
    wait_uploaded(phone, 1)
    save_entry(phone, 5)
    wait_uploaded(phone, 2)
    entries = {e["pain"]: e for e in account.entries()}
    assert sorted(entries) == [5, 6]
    first = entries[6]
    assert (first["sleep_hours"], first["stress"], first["tags"]) == (
        6.5,
        4,
        ["long drive", "weather"],
    )
    assert [s["region"] for s in first["sites"]] == ["neck"]
    check_accessibility(page, "diary")
    screenshot(page, "diary")

    items = page.locator("ul.entries > li")
    expect(items).to_have_count(2)
    first_item = page.locator(f'li.entry[data-id="{first["id"]}"]')
    first_item.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit entry")).to_be_visible()
    expect(page.get_by_label("Sleep (hours)")).to_have_value("6.5")
    page.get_by_label("Pain", exact=True).fill("4")
    page.get_by_role("button", name="Save entry").click()
    expect(first_item.locator(".pain-badge")).to_have_text("Pain 4")
    wait_uploaded(phone, 2)
    second_item = page.locator(f'li.entry[data-id="{entries[5]["id"]}"]')
    second_item.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Yes, delete").click()
    wait_uploaded(phone, 1)
    poll_until(lambda: len(account.entries()) == 1, "the delete uploaded", timeout=WAIT_MS / 1000)
    [edited] = account.entries()
    assert (edited["id"], edited["pain"], edited["version"], edited["tags"]) == (
        first["id"],
        4,
        2,
        ["long drive", "weather"],
    )
    assert (edited["sleep_hours"], [s["region"] for s in edited["sites"]]) == (6.5, ["neck"])
    assert account.get(f"/v1/patients/me/entries/{entries[5]['id']}").status_code == 404

    # A course that started two weeks ago, with a week of diary before it; two sessions.
    start = today() - dt.timedelta(days=14)
    seed_course_history(account, start)
    page.get_by_role("link", name="Courses").click()
    expect(page.get_by_role("heading", name="Courses", level=1)).to_be_visible()
    page.get_by_label("Course name").fill("Acupuncture for neck pain")
    page.get_by_label("Condition").select_option("neck_pain")
    page.get_by_label("Start date").fill(start.isoformat())
    page.get_by_label("Planned sessions").fill("8")
    page.get_by_role("button", name="Create course").click()
    expect(page.locator("ul.courses > li")).to_have_count(1)
    expect(page.locator(".badge.pending")).to_have_count(0)
    [course] = account.get("/v1/patients/me/courses").json()["items"]
    assert (course["name"], course["start_date"], course["planned_sessions"]) == (
        "Acupuncture for neck pain",
        start.isoformat(),
        8,
    )
    expect(page.get_by_label("Course", exact=True)).to_have_value(course["id"])

    points = page.get_by_label("Acupoints")
    points.fill("XY9")
    page.get_by_role("button", name="Add point").click()
    expect(page.locator("#point-error")).to_have_text("“XY9” is not a known acupoint code.")
    points.fill("li 4, sj 5")  # an alias (SJ → TE) and a spelling the API tolerates
    page.get_by_role("button", name="Add point").click()
    expect(page.get_by_role("list", name="Points chosen").get_by_role("listitem")).to_have_text(
        ["LI4×", "TE5×"]
    )
    page.get_by_label("Pain before").fill("7")
    page.get_by_label("Pain after").fill("4")
    page.get_by_role("button", name="Save session").click()
    sessions_list = page.get_by_role("list", name="Sessions of Acupuncture for neck pain")
    expect(sessions_list.get_by_role("listitem")).to_have_count(1)
    expect(page.locator(".badge.pending")).to_have_count(0)
    points.fill("GB20")
    points.press("Enter")
    page.get_by_label("Pain before").fill("5")
    page.get_by_label("Pain after").fill("3")
    page.get_by_role("button", name="Save session").click()
    expect(sessions_list.get_by_role("listitem")).to_have_count(2)
    expect(page.locator(".badge.pending")).to_have_count(0)
    sessions = account.get("/v1/patients/me/sessions").json()["items"]
    assert sorted(
        (s["points"], s["pain_before"], s["pain_after"], s["course_id"]) for s in sessions
    ) == [
        (["GB20"], 5, 3, course["id"]),
        (["LI4", "TE5"], 7, 4, course["id"]),
    ]
    check_accessibility(page, "courses")
    screenshot(page, "courses")

    # The summary in plain words, the chart, the weeks.
    summary = account.get(f"/v1/patients/me/courses/{course['id']}/summary").json()
    assert summary["category"] == "substantial"
    page.get_by_role("link", name="Summary").click()
    reading = page.locator(".reading .headline")
    expect(reading).to_have_text(
        f"Pain is down {round(summary['reduction_pct'])}\u00a0% from your baseline of "
        f"{summary['baseline']['pain_mean']:.1f} — a substantial improvement. "
        f"Over the last 7 days it averaged {summary['current']['pain_mean']:.1f}."
    )
    expect(page.locator(".reading")).to_contain_text(
        "You have had 2 of 8 planned sessions; "
        "right after a session your pain was on average 2.5 points lower."
    )
    expect(page.locator(".reading")).not_to_contain_text("p =")
    page.wait_for_function(CHART_LOADED, timeout=WAIT_MS)
    weeks = page.get_by_role("table", name="Average pain per week of the course")
    expect(weeks.locator("tbody tr")).to_have_count(4)
    expect(weeks.locator("tbody tr").first).to_contain_text("7.0")
    check_accessibility(page, "summary")
    screenshot(page, "summary")

    page.get_by_role("link", name="Courses").click()
    page.get_by_role("button", name="End course today: Acupuncture for neck pain").click()
    expect(page.get_by_role("button", name=re.compile("End course today"))).to_have_count(0)
    expect(page.locator(".badge.pending")).to_have_count(0)
    ended = account.get(f"/v1/patients/me/courses/{course['id']}").json()
    assert (ended["end_date"], ended["planned_sessions"], ended["version"]) == (
        today().isoformat(),
        8,
        2,
    )

    page.get_by_role("link", name="Share").click()
    page.get_by_role("button", name="Make a share code").click()
    expect(page.locator(".share-code")).to_have_text(re.compile(r"^\S{8,}$"))
    code = page.locator(".share-code").text_content()
    check_accessibility(page, "share")
    screenshot(page, "share")
    # The code works (once) for a clinician.
    clinician = make_account("clinician")
    linked = clinician.send("POST", "/v1/links", {"code": code})
    assert linked.status_code == 201, linked.text
    assert linked.json()["display_name"] == "Alex Example"


def wait_for_service_worker(d: Device) -> None:
    """Until a service worker controls the page (the shell is then in its cache)."""
    d.page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    d.page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=WAIT_MS)


def test_entries_written_offline_go_up_once(
    device: Callable[[], Device], make_account: Callable[..., Account]
) -> None:
    account = make_account()
    phone = device()
    phone.allow(OFFLINE_ERROR)  # the browser's own line for each request that fails offline
    page = phone.page
    sign_in_with_form(phone, account)
    wait_for_service_worker(phone)

    # Every file of the app is in the worker's cache, and nothing else (no API response).
    cached = page.evaluate(
        """async () => {
            const names = await caches.keys();
            const urls = [];
            for (const name of names) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) urls.push(request.url);
            }
            return urls.map((url) => new URL(url).pathname);
        }"""
    )
    static = Path(__file__).resolve().parents[2] / "app" / "web" / "static"
    files = {f"/app/{p.relative_to(static).as_posix()}" for p in static.rglob("*") if p.is_file()}
    # (the worker's own script is kept by the browser, not in a cache)
    assert sorted(cached) == sorted(files - {"/app/sw.js"} | {"/app/"})

    phone.context.set_offline(True)
    for pain in (2, 3, 4):
        save_entry(phone, pain)
        expect(page.locator("ul.entries > li.entry")).to_have_count(pain - 1)
    expect(page.locator("ul.entries .badge.pending")).to_have_count(3)
    expect(page.locator("#sync-status")).to_have_text("Offline · 3 kept on this device")
    assert account.entries() == []

    # Offline: the shell comes from the service worker, the entries from IndexedDB.
    reloaded = page.reload()
    assert reloaded is not None and reloaded.from_service_worker
    page.wait_for_function("() => document.body.classList.contains('ready')")
    expect(page.get_by_role("heading", name="Diary", level=1)).to_be_visible()
    expect(page.locator("ul.entries .badge.pending")).to_have_count(3)
    assert account.entries() == []
    local_ids = page.locator("ul.entries > li.entry").evaluate_all(
        "items => items.map(i => i.dataset.id)"
    )

    phone.context.set_offline(False)  # the `online` event starts the upload
    wait_uploaded(phone, 3)
    uploaded = account.entries()
    assert sorted(e["pain"] for e in uploaded) == [2, 3, 4]
    assert sorted(e["id"] for e in uploaded) == sorted(local_ids)

    page.reload()
    page.wait_for_function("() => document.body.classList.contains('ready')")
    wait_uploaded(phone, 3)
    assert sorted(e["id"] for e in account.entries()) == sorted(local_ids)

    # Signing out while an entry waits offline warns first (signing out forgets the device's copy).
    phone.context.set_offline(True)
    save_entry(phone, 6)
    expect(page.locator("ul.entries .badge.pending")).to_have_count(1)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("alert")).to_have_text(
        "1 change is not uploaded yet and would be lost. Go online first, or sign out anyway."
    )
    phone.context.set_offline(False)
    wait_uploaded(phone, 4)
    page.get_by_role("button", name="Sign out anyway").click()
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    assert sorted(e["pain"] for e in account.entries()) == [2, 3, 4, 6]
    page.reload()  # the device kept nothing: no session to resume
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


STORED = """() => new Promise((resolve, reject) => {
    const opening = indexedDB.open('paindiary');
    opening.onerror = () => reject(opening.error);
    opening.onsuccess = () => {
        const db = opening.result;
        const kv = db.transaction('kv').objectStore('kv');
        const keys = kv.getAllKeys();
        const token = kv.get('refresh_token');
        token.onsuccess = () => {
            resolve({
                keys: keys.result.sort(),
                refresh_token: token.result,
                web_storage: localStorage.length + sessionStorage.length,
                cookies: document.cookie,
            });
            db.close();
        };
    };
})"""


def test_tokens_the_device_keeps(
    device: Callable[[], Device], make_account: Callable[..., Account]
) -> None:
    """Only the refresh token is stored (IndexedDB); the access token stays in memory. A
    reload resumes the session with a refresh, and the rotated token replaces the old one."""
    account = make_account()
    phone = device()
    sign_in_with_form(phone, account)
    before: dict[str, Any] = phone.page.evaluate(STORED)
    # (the sync cursor and the reference list of acupoints may be there too, nothing else)
    assert (
        {"me", "refresh_token"}
        <= set(before["keys"])
        <= {"acupoints", "cursor", "me", "refresh_token"}
    )
    assert (before["web_storage"], before["cookies"]) == (0, "")
    assert before["refresh_token"] and before["refresh_token"].count(".") == 1  # not a JWT

    phone.page.reload()
    phone.page.wait_for_function("() => document.body.classList.contains('ready')")
    expect(phone.page.get_by_role("heading", name="Diary", level=1)).to_be_visible()
    after: dict[str, Any] = phone.page.evaluate(STORED)
    assert after["refresh_token"] not in {None, before["refresh_token"]}
    assert (
        {"me", "refresh_token"}
        <= set(after["keys"])
        <= {"acupoints", "cursor", "me", "refresh_token"}
    )


def test_two_devices_of_one_patient_see_each_others_entries(
    device: Callable[[], Device], make_account: Callable[..., Account]
) -> None:
    account = make_account()
    phone, tablet = device(), device()
    sign_in_with_form(phone, account)
    sign_in_with_form(tablet, account)

    save_entry(phone, 8, tags="phone")
    wait_uploaded(phone, 1)
    # The tablet comes back to the foreground: it reads the changes feed.
    tablet.page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(tablet.page.locator("ul.entries > li.entry")).to_have_count(1)
    expect(tablet.page.locator("ul.entries .pain-badge")).to_have_text(["Pain 8"])
    expect(tablet.page.locator("ul.entries .tags")).to_have_text(["phone"])

    save_entry(tablet, 3, tags="tablet")
    wait_uploaded(tablet, 2)
    phone.page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(phone.page.locator("ul.entries > li.entry")).to_have_count(2)
    expect(phone.page.locator("ul.entries .tags")).to_have_text(["tablet", "phone"])
    assert sorted(e["pain"] for e in account.entries()) == [3, 8]


def test_a_conflict_is_shown_and_decided(
    device: Callable[[], Device], make_account: Callable[..., Account]
) -> None:
    account = make_account()
    entry_id = str(uuid.uuid4())
    created = account.send(
        "PUT", f"/v1/patients/me/entries/{entry_id}", {"recorded_at": at_noon(today()), "pain": 5}
    )
    assert created.status_code == 201, created.text
    phone, tablet = device(), device()
    tablet.allow(OFFLINE_ERROR)
    tablet.allow(r"status of 412")  # the browser's own line for the refused upload
    sign_in_with_form(phone, account)
    sign_in_with_form(tablet, account)
    for d in (phone, tablet):
        expect(d.page.locator("ul.entries .pain-badge")).to_have_text(["Pain 5"])
    refused: list[Response] = []
    tablet.page.on("response", lambda r: refused.append(r) if r.status == 412 else None)

    # The tablet edits offline; meanwhile the phone edits the same entry and uploads.
    tablet.context.set_offline(True)
    tablet.page.get_by_role("button", name="Edit").click()
    tablet.page.get_by_label("Pain", exact=True).fill("9")
    tablet.page.get_by_role("button", name="Save entry").click()
    expect(tablet.page.locator("ul.entries .badge.pending")).to_have_count(1)
    phone.page.get_by_role("button", name="Edit").click()
    phone.page.get_by_label("Pain", exact=True).fill("2")
    phone.page.get_by_role("button", name="Save entry").click()
    wait_uploaded(phone, 1)
    assert (account.entries()[0]["pain"], account.entries()[0]["version"]) == (2, 2)

    tablet.context.set_offline(False)
    conflicts = tablet.page.get_by_role("alert").filter(
        has_text="Please choose which version to keep"
    )
    expect(conflicts).to_contain_text("it was changed on another device while you changed it here.")
    expect(tablet.page.locator("#sync-status")).to_have_text("1 change needs you")
    assert [r.request.method for r in refused] == ["PUT"]
    assert account.entries()[0]["pain"] == 2  # nothing overwritten behind the user's back
    check_accessibility(tablet.page, "conflict")
    screenshot(tablet.page, "conflict")

    conflicts.get_by_role("button", name="Keep mine").click()
    expect(conflicts).to_have_count(0)
    wait_uploaded(tablet, 1)
    [entry] = account.entries()
    assert (entry["pain"], entry["version"]) == (9, 3)
    phone.page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(phone.page.locator("ul.entries .pain-badge")).to_have_text(["Pain 9"])


def seed_patient_with_course(account: Account) -> str:
    start = today() - dt.timedelta(days=14)
    seed_course_history(account, start)
    course_id = str(uuid.uuid4())
    course = {
        "name": "Neck course",
        "condition": "neck_pain",
        "modality": "acupuncture",
        "start_date": start.isoformat(),
    }
    assert account.send("PUT", f"/v1/patients/me/courses/{course_id}", course).status_code == 201
    session = {
        "course_id": course_id, "occurred_at": at_noon(start), "points": ["LI4", "GB20"],
        "pain_before": 7, "pain_after": 4,
    }  # fmt: skip
    assert (
        account.send("PUT", f"/v1/patients/me/sessions/{uuid.uuid4()}", session).status_code == 201
    )
    return course_id


def test_clinician_links_a_patient_and_reads_the_report(
    device: Callable[[], Device], make_account: Callable[..., Account], tmp_path: Path
) -> None:
    patient = make_account(display_name="Robin Patient")
    seed_patient_with_course(patient)
    phone = device()
    sign_in_with_form(phone, patient)
    phone.page.get_by_role("link", name="Share").click()
    phone.page.get_by_role("button", name="Make a share code").click()
    code = phone.page.locator(".share-code").text_content()
    assert code

    desk = device()
    page = desk.page
    desk.open()
    email = f"clinician-{uuid.uuid4().hex[:10]}@example.org"
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("group", name="Role").get_by_role("radio", name="Clinician").check()
    page.get_by_label("Your name (optional)").fill("Dr Lee")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Patients", level=1)).to_be_visible()
    page.get_by_label("Share code").fill(code)
    page.get_by_role("button", name="Link patient").click()
    patients = page.get_by_role("list").filter(has=page.locator("a.patient-link"))
    expect(patients.get_by_role("link")).to_have_count(1)
    expect(patients.get_by_role("link")).to_contain_text("Robin Patient")
    check_accessibility(page, "clinician list")
    screenshot(page, "clinician-patients")

    patients.get_by_role("link", name=re.compile("Robin Patient")).click()
    expect(page.get_by_role("heading", name="Report: Robin Patient", level=1)).to_be_visible()
    page.wait_for_function(CHART_LOADED, timeout=WAIT_MS)
    expect(page.get_by_role("heading", name="Neck course")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("substantial")
    expect(
        page.get_by_role("table", name="Entries of the last 28 days").locator("tbody tr")
    ).to_have_count(21)
    check_accessibility(page, "clinician report")
    screenshot(page, "clinician-report")

    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Download CSV").click()
    csv_path = tmp_path / "entries.csv"
    csv_download.value.save_as(csv_path)
    assert csv_download.value.suggested_filename.endswith(".csv")
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert "pain" in lines[0].split(",") and len(lines) == 1 + 21
    with page.expect_download() as fhir_download:
        page.get_by_role("button", name="Download FHIR").click()
    fhir_path = tmp_path / "report.json"
    fhir_download.value.save_as(fhir_path)
    bundle: dict[str, Any] = json.loads(fhir_path.read_text(encoding="utf-8"))
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Patient") == 1 and kinds.count("Procedure") == 1

    # The patient sees who has access, the reads in the access log, and revokes.
    phone.page.get_by_role("link", name="Diary").click()
    phone.page.get_by_role("link", name="Share").click()
    expect(phone.page.get_by_role("heading", name="Who can see your diary")).to_be_visible()
    expect(phone.page.locator(".link-row")).to_contain_text("Dr Lee")
    expect(phone.page.get_by_role("table", name="Who looked at your diary")).to_contain_text(
        "Dr Lee"
    )
    phone.page.get_by_role("button", name="Stop sharing with Dr Lee").click()
    expect(phone.page.get_by_text("Nobody but you.")).to_be_visible()
    clinician = sign_in(desk.base_url, email)
    patient_id = patient.get("/v1/me").json()["id"]
    assert clinician.get(f"/v1/patients/{patient_id}/report").status_code == 404


def test_the_app_runs_under_its_content_security_policy(
    device: Callable[[], Device], server: LiveServer
) -> None:
    for path in ("/app/", "/app/sw.js", "/app/js/app.js", "/app/manifest.webmanifest"):
        response = httpx.get(server.base_url + path, timeout=30)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    manifest = httpx.get(server.base_url + "/app/manifest.webmanifest", timeout=30).json()
    assert (manifest["start_url"], manifest["display"]) == ("/app/", "standalone")
    for icon in manifest["icons"]:
        png = httpx.get(server.base_url + icon["src"], timeout=30).content
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and f"{width}x{height}" == icon["sizes"]

    phone = device()
    phone.open()
    # The policy is enforced: an inline script does not run and is reported.
    phone.allow(r"Executing inline script violates")
    ran = phone.page.evaluate(
        """() => new Promise((resolve) => {
            document.addEventListener(
                'securitypolicyviolation', () => resolve(window.__inline === true), { once: true });
            const script = document.createElement('script');
            script.textContent = 'window.__inline = true';
            document.body.append(script);
        })"""
    )
    assert ran is False
    assert phone.page.evaluate("window.__cspViolations.splice(0)") == ["script-src-elem inline"]
