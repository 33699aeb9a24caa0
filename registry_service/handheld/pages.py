"""The app itself: the page, its service worker, its web app manifest and its icons.

The page is the same for everyone (it is cached by the service worker and shown offline): who is
signed in, and with it what the page may show and do, is asked for at run time
(/dashboard/handheld/me). Its language follows the dashboard's rule (?lang=, the `lang` cookie,
zh_CN); the page does not set the cookie, so the service worker can fetch every language's page
for its cache without changing the reader's choice.

The service worker's cache name carries VERSION, a digest of every file the app is made of: a
changed file gives a new worker, which fetches the new shell and drops the old one.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Final

from flask import Response, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from registry_service.dashboard import i18n, languages
from registry_service.errors import NotFound
from registry_service.handheld import icons
from registry_service.handheld.paths import HERE, URL_PREFIX
from registry_service.handheld.words import DOMAIN, locales, page_words
from tag_tools import messages

STATIC: Final = HERE / "static"
WORKER: Final = HERE / "worker" / "sw.js"
THEME: Final = "#155299"
SIGN_IN: Final = "/dashboard/sign-in?next=/dashboard/handheld/"


def static_files() -> list[str]:
    """Every file under static/ (the page's scripts, the verifier core, the style sheet), sorted."""
    return sorted(path.relative_to(STATIC).as_posix() for path in STATIC.rglob("*") if path.is_file())


@lru_cache(maxsize=1)
def version() -> str:
    """A digest of the app's files, templates and catalogues: the service worker's cache version."""
    digest = hashlib.sha256()
    sources = [*(STATIC / name for name in static_files()), WORKER, *sorted((HERE / "templates").rglob("*.html"))]
    sources += [path for directory in messages.search_path() for path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))]
    for path in sources:
        digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def shell() -> list[str]:
    """What the service worker caches at install: the page in every language, its files, icons."""
    pages = [f"{URL_PREFIX}/", *(f"{URL_PREFIX}/?lang={code}" for code in locales())]
    files = [f"{URL_PREFIX}/static/{name}" for name in static_files()]
    icon_urls = [f"{URL_PREFIX}/icons/{name}" for name in ICONS]
    return [*pages, f"{URL_PREFIX}/manifest.webmanifest", *files, *icon_urls]


def index() -> Response:
    code = languages.selected()
    words = page_words(code)
    html = render_template(
        "handheld/index.html",
        t=words.__getitem__,
        html_lang=i18n.language_tag(code),
        choices=[(other, i18n.language_tag(other), messages.own_name(other), other == code) for other in locales()],
        words_json=json.dumps({"language": i18n.language_tag(code), "locale": code, "words": words}, ensure_ascii=False).replace(
            "<", "\\u003c"
        ),  # a word can never end the JSON block's <script> element
        sign_in=SIGN_IN,
        theme=THEME,
    )
    return Response(html, content_type="text/html; charset=utf-8")


def service_worker() -> Response:
    config = {"version": version(), "shell": shell(), "locales": list(locales())}
    body = f"self.HANDHELD = {json.dumps(config)};\n" + WORKER.read_text(encoding="utf-8")
    response = Response(body, content_type="text/javascript; charset=utf-8")
    response.headers["Service-Worker-Allowed"] = f"{URL_PREFIX}/"
    response.headers["Cache-Control"] = "no-cache"
    return response


def manifest() -> Response:
    code = languages.selected()
    words = page_words(code)
    document = {
        "name": words["app_name"],
        "short_name": words["app_short_name"],
        "description": words["app_description"],
        "lang": i18n.language_tag(code),
        "start_url": f"{URL_PREFIX}/",
        "scope": f"{URL_PREFIX}/",
        "id": f"{URL_PREFIX}/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [
            {"src": url_for("handheld.icon", name=name), "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
            for name, (size, purpose) in ICONS.items()
        ],
    }
    return Response(json.dumps(document, ensure_ascii=False), content_type="application/manifest+json; charset=utf-8")


ICONS: Final[dict[str, tuple[int, str]]] = {
    "icon-192.png": (192, "any"),
    "icon-512.png": (512, "any"),
    "icon-maskable-512.png": (512, "maskable"),
}


def icon(name: str) -> BaseResponse:
    if name not in ICONS:
        raise NotFound(f"no icon {name}")
    size, purpose = ICONS[name]
    response = Response(icons.icon_png(size, purpose == "maskable"), content_type="image/png")
    response.set_etag(f"{version()}-{name}")
    return response.make_conditional(request)
