"""A wrong filter (issue 14, "Errors in the user's language, with the form kept"): the page comes back
with status 422, its form as typed, each wrong field marked (aria-invalid, and a message beside it
that aria-describedby names) and listed above the form, in the reader's language; never a bare
error page with the code's English."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.dashboard.helpers import sign_in


@pytest.fixture
def bureau(client: FlaskClient) -> FlaskClient:
    assert sign_in(client, "bureau").status_code == 302
    return client


def marked(text: str, name: str) -> str:
    """The message beside field `name`, after checking the field is marked as wrong and points to it."""
    field = re.search(rf'<(?:input|select) id="f-{name}"[^>]*>', text)
    assert field, f"no field {name}"
    assert 'aria-invalid="true"' in field.group(0) and f"error-{name}" in field.group(0), field.group(0)
    message = re.search(rf'<span class="field-error" id="error-{name}">([^<]+)</span>', text)
    assert message, f"no message beside {name}"
    return message.group(1)


def unmarked(text: str, name: str) -> None:
    field = re.search(rf'<(?:input|select) id="f-{name}"[^>]*>', text)
    assert field and "aria-invalid" not in field.group(0), name


def test_a_bad_date_shows_the_form_again_with_the_field_marked(bureau: FlaskClient) -> None:
    response = bureau.get("/dashboard/attempts?since=2026-13-01&plate=豫a12345&outcome=refused&region=410105")
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert marked(text, "since").startswith("不是有效日期")
    # What was typed stays, as typed (a date input would drop a date it cannot read: a text one here).
    assert re.search(r'<input id="f-since" name="since" type="text" value="2026-13-01"', text)
    assert 'value="豫a12345"' in text and '<option value="refused" selected>' in text and 'value="410105"' in text
    for name in ("until", "plate", "outcome", "region"):
        unmarked(text, name)
    assert 'id="form-errors" role="alert"' in text and "以下内容有误" in text
    assert 'id="count"' not in text and 'id="export"' not in text  # no results for a query that was not run
    assert "since is not a valid date" not in text  # the code's English stays in the log


def test_the_same_in_english(bureau: FlaskClient) -> None:
    text = bureau.get("/dashboard/attempts?since=2026-13-01&lang=en").get_data(as_text=True)
    assert marked(text, "since") == "Not a date: write it like 2026-11-22 (years 2000 to 2199)"
    assert "Please correct these fields" in text and 'lang="en"' in text


def test_every_wrong_field_is_marked_at_once(bureau: FlaskClient) -> None:
    response = bureau.get(
        "/dashboard/attempts?until=2026-02-30&plate=XX&cylinder_id=abc&tag_uid=zz&outcome=maybe&sort=secret&station=ST%201"
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert marked(text, "until").startswith("不是有效日期")
    assert marked(text, "plate") == "不是有效的车牌号（例如 豫A12345）"
    assert marked(text, "cylinder_id").startswith("不是有效的气瓶编号")
    assert marked(text, "tag_uid").startswith("不是有效的标签 UID")
    assert marked(text, "outcome") == marked(text, "sort") == "请从列表中选择"
    assert marked(text, "station") == "不是有效的编号，请从列表中选择"


@pytest.mark.parametrize(
    ("query", "zh", "en"),
    [
        ("since=2026-11-23&until=2026-11-22", "开始日期晚于结束日期", "The start date is after the end date"),
        ("since=2025-01-01&until=2026-11-22", "时间范围最长 366 天", "A range covers at most 366 days"),
    ],
)
def test_a_range_the_registry_cannot_answer_marks_the_start(bureau: FlaskClient, query: str, zh: str, en: str) -> None:
    response = bureau.get(f"/dashboard/attempts?{query}")
    assert response.status_code == 422 and marked(response.get_data(as_text=True), "since") == zh
    assert marked(bureau.get(f"/dashboard/attempts?{query}&lang=en").get_data(as_text=True), "since") == en


def test_a_place_the_registry_does_not_know_is_the_fields_mistake(bureau: FlaskClient) -> None:
    text = bureau.get("/dashboard/attempts?region=9999&station=ST-NOWHERE").get_data(as_text=True)
    assert marked(text, "region") == "没有这个编号的区域，请从列表中选择"
    assert marked(text, "station") == "没有这个编号的加气站，请从列表中选择"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/dashboard/stations/ST-410105-01?until=yesterday", "until"),
        ("/dashboard/station-faults?since=2026-1-1", "since"),
        ("/dashboard/station-faults?kind=nonsense", "kind"),
        ("/dashboard/inspections?cylinder_id=12", "cylinder_id"),
        ("/dashboard/clones?since=tomorrow", "since"),
        ("/dashboard/clones?region=9999", "region"),
    ],
)
def test_every_filter_form_keeps_itself(bureau: FlaskClient, path: str, field: str) -> None:
    response = bureau.get(path)
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and response.mimetype == "text/html", path
    assert marked(text, field), path
    assert "<h1>" in text and 'class="card error"' not in text  # the page itself, not an error page


def test_the_station_page_keeps_its_heading(bureau: FlaskClient) -> None:
    text = bureau.get("/dashboard/stations/ST-410105-01?since=2026-13-01").get_data(as_text=True)
    assert re.search(r"<h1>[^<]+ <small class=\"mono\">ST-410105-01</small></h1>", text)
    assert bureau.get("/dashboard/stations/NOPE?since=2026-13-01").status_code == 404


def test_a_centre_user_gets_its_form_back_too(client: FlaskClient) -> None:
    sign_in(client, "centre1")
    response = client.get("/dashboard/inspections?since=2026-13-01&lang=en")
    assert response.status_code == 422 and marked(response.get_data(as_text=True), "since").startswith("Not a date")


def test_the_overview_marks_its_dates_over_the_default_figures(bureau: FlaskClient) -> None:
    response = bureau.get("/dashboard/overview?since=2026-13-01")
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and marked(text, "since").startswith("不是有效日期")
    assert 'value="2026-13-01"' in text and 'id="form-errors"' in text
    unknown = bureau.get("/dashboard/overview?region=9999").get_data(as_text=True)
    assert "没有这个编号的区域" in unknown  # its form has no region field: the list above it says so


def test_an_export_link_with_a_bad_filter_says_which_field_in_the_readers_language(bureau: FlaskClient) -> None:
    for path in ("/dashboard/attempts.csv?since=2026-13-01", "/dashboard/clones.csv?since=2026-13-01"):
        response = bureau.get(path)
        text = response.get_data(as_text=True)
        assert response.status_code == 422 and response.mimetype == "text/html", path
        assert "开始日期：不是有效日期" in text and "since is not a valid date" not in text, path
    english = bureau.get("/dashboard/attempts.csv?since=2026-13-01&lang=en").get_data(as_text=True)
    assert "From: Not a date" in english


def test_error_pages_carry_no_english_detail(bureau: FlaskClient) -> None:
    for path in ("/dashboard/vehicles/NOPE", "/dashboard/cylinders/1-2-3", "/dashboard/stations/NOPE"):
        text = bureau.get(path).get_data(as_text=True)
        assert "没有找到" in text and "no vehicle" not in text and "no cylinder" not in text and "no station" not in text
