"""The little HTTP the demo needs as an outside client: JSON calls with a bearer token, and a
browser-like session (cookies, CSRF token from the form) for the dashboard."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from typing import Any

TIMEOUT_S = 15.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class HttpError(RuntimeError):
    pass


def post_json(url: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        raise HttpError(f"POST {url}: {error.code} {error.read().decode(errors='replace')[:300]}") from error


class BrowserSession:
    """Signs in through the dashboard's own form, then fetches pages with the session cookie."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=TIMEOUT_S) as response:
            return str(response.read().decode("utf-8"))

    def sign_in(self, prefix: str, username: str, password: str) -> str:
        match = CSRF.search(self.get(f"{prefix}/sign-in"))
        if match is None:
            raise HttpError("the sign-in page has no CSRF token")
        form = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": match.group(1)})
        try:
            with self.opener.open(self.base_url + f"{prefix}/sign-in", data=form.encode(), timeout=TIMEOUT_S) as response:
                return str(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            raise HttpError(f"sign-in as {username} failed: {error.code}") from error
