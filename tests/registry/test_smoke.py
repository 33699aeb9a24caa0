from flask import Flask
from flask.testing import FlaskClient


def test_health(client: FlaskClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.json == {"status": "ok"}


def test_unknown_path_is_problem_json(client: FlaskClient) -> None:
    r = client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.content_type == "application/problem+json"
    assert r.get_json()["status"] == 404


def test_oversized_body_is_413_problem(app: Flask, client: FlaskClient) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    r = client.post("/api/v1/auth/tokens", data=b"x" * (limit + 1), content_type="application/json")
    assert r.status_code == 413
    assert r.content_type == "application/problem+json"


def test_wrong_method_is_405_problem(client: FlaskClient) -> None:
    r = client.delete("/api/v1/health")
    assert r.status_code == 405 and r.get_json()["status"] == 405
