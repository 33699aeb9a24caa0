"""Which language a dashboard request is answered in, and Flask-Babel wired to the dashboard's
catalogues.

The language is any locale with a "dashboard" catalogue (i18n.installed()): ?lang= beats the cookie,
a value that names no installed catalogue is ignored, and with neither the page is in DEFAULT_LOCALE.
Flask-Babel's locale selector is `selected`; its translations come from tag_tools.messages
(CatalogueDomain), which compiles the .po files in memory and searches CYLINDER_LOCALE_PATH first.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from urllib.parse import urlencode

import flask_babel  # type: ignore[import-untyped]
from flask import Flask, Response, g, request

from registry_service.dashboard import i18n
from tag_tools import messages

LOCALE_COOKIE = "lang"


def selected() -> str:
    """The locale of this request's pages, e.g. "zh_CN" (Flask-Babel's locale selector)."""
    code: str | None = g.get("dashboard_locale")
    if code is None:
        chosen = (i18n.resolve(request.args.get("lang")), i18n.resolve(request.cookies.get(LOCALE_COOKIE)))
        code = g.dashboard_locale = next(filter(None, chosen), i18n.DEFAULT_LOCALE)
    return code


def words() -> i18n.Words:
    """This request's words (built once per request)."""
    current: i18n.Words | None = g.get("dashboard_words")
    if current is None:
        current = g.dashboard_words = i18n.Words.of(selected())
    return current


class CatalogueDomain(flask_babel.Domain):  # type: ignore[misc]  # Flask-Babel has no type hints
    """The "dashboard" domain read through tag_tools.messages rather than from Flask-Babel's
    directories of compiled .mo files, so an operator's catalogue in CYLINDER_LOCALE_PATH counts."""

    def __init__(self) -> None:
        super().__init__(domain=i18n.DOMAIN)

    def get_translations(self) -> gettext.NullTranslations:
        return words().translations


class DashboardBabel(flask_babel.Babel):  # type: ignore[misc]
    domain_instance = CatalogueDomain()  # every flask_babel.gettext() of the app reads our catalogues


def init_app(app: Flask) -> None:
    """Flask-Babel on `app`, once. Its Jinja setup stays off: the templates' t() and tn() fill
    {placeholders} (the catalogues' style), where Flask-Babel's _() fills %(name)s."""
    if "babel" not in app.extensions:
        DashboardBabel(
            app, configure_jinja=False, default_locale=i18n.DEFAULT_LOCALE, default_domain=i18n.DOMAIN, locale_selector=selected
        )


def remember(response: Response) -> None:
    """A ?lang= naming an installed locale is kept in a cookie for the next pages."""
    chosen = i18n.resolve(request.args.get("lang"))
    if chosen is not None:
        response.set_cookie(LOCALE_COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True)


@dataclass(frozen=True)
class Choice:
    """One entry of the language switcher."""

    code: str
    tag: str  # for hreflang and lang attributes
    name: str  # in its own language
    url: str  # this page in that language
    current: bool


def switcher() -> list[Choice]:
    """Every installed language, by its own name, linking to this page in it."""
    current = selected()
    args = request.args.to_dict()
    return [
        Choice(
            code,
            i18n.language_tag(code),
            messages.own_name(code),
            f"{request.path}?{urlencode({**args, 'lang': code})}",
            code == current,
        )
        for code in i18n.installed()
    ]
