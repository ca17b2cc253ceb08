"""CSRF: every POST carries its session's token in the form, and comes from this origin; otherwise 403.

The session cookie is SameSite=Strict, but another port of the same host is the same *site* to a
browser, so the cookie alone proves nothing: the token does.  A browser's ``Origin`` and
``Sec-Fetch-Site`` headers, where it sends them, are checked too.  Handlers of state-changing forms call
:func:`checked_form` first and read the form only from it, so a refused post changes nothing.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from scheduler.web.context import console
from scheduler.web.session import current

FIELD = "csrf"
MAX_FIELDS = 200
MAX_BODY = 64 * 1024  # a console form is a few fields; anything larger is refused before it is read


class CsrfRefused(Exception):
    """A post without this session's CSRF token, or from another origin: refused before anything is read."""


async def checked_form(request: Request) -> FormData:
    """The posted form, once its origin and CSRF token check out; :class:`CsrfRefused` otherwise."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise CsrfRefused(f"a form posted from {origin} is refused: forms are accepted from this site's pages only")
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise CsrfRefused("a form posted from another site's page is refused: forms are accepted from this site's "
                          "pages only")
    size = request.headers.get("content-length", "")
    if not size.isdigit() or int(size) > MAX_BODY:
        raise HTTPException(413, f"a form must say its length and stay under {MAX_BODY // 1024} KiB")
    session = current(request, console(request).sessions)
    form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    sent = form.get(FIELD)
    if session is None or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise CsrfRefused("this form's security token is missing or has expired: reload the page and try again")
    return form
