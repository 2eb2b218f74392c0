"""The console's routes: pages, sign-in and sign-out, the exception forms, and the script and style sheet.

Who may see what:

- without a keys file (``SCALER_API_KEYS_FILE``) every page is open and read-only, and says why;
- with one, every page needs a session (``/sign-in`` exchanges a control API key for it); a viewer
  sees no write control, an operator sees the exception forms and end buttons.

Every POST checks the session's CSRF token (the sign-in form a double-submit cookie) and the
role, then goes through :mod:`scaler.daemon.api.writes`, the control API's own code. Every
answer carries a ``Content-Security-Policy`` without inline scripts, ``X-Frame-Options: DENY``,
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` and ``Cache-Control: no-store``
(pages). Templates are autoescaped: a name is always text, never markup.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

import jinja2
import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from scaler.daemon.api.auth import ANONYMOUS, Guard
from scaler.daemon.api.bodies import MAX_BODY_BYTES, BodyError, parse_exception_request
from scaler.daemon.api.keys import Caller
from scaler.daemon.api.writes import Refused, end_exception, record_exception
from scaler.daemon.console import overview
from scaler.daemon.console.page_data import ConsoleFacts, PageData
from scaler.daemon.console.sessions import SESSION_COOKIE, SESSION_SECONDS, SIGN_IN_COOKIE, Session, Sessions, same_token
from scaler.store import StoreError

log = structlog.get_logger()

_PACKAGE = resources.files("scaler.daemon.console")
#: The headers of every console answer (see the module's docstring).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}
#: The exception form's buttons: what each records (``until`` computed for keep_tomorrow).
ACTIONS = {
    "keep_1h": ("override", "running", "1h"),
    "keep_3h": ("override", "running", "3h"),
    "keep_tomorrow": ("override", "running", None),
    "stop": ("override", "stopped", None),
    "hands_off": ("suspend", None, None),
}
#: The durations offered for "stop now" and "hands off".
DURATIONS = ("1h", "3h", "8h", "1d", "3d")
#: When "until tomorrow" ends, in the policy's zone.
TOMORROW_AT = (9, 0)
#: The no-keys explanation shown on every page.
NO_KEYS = "Read-only: no API keys are configured (SCALER_API_KEYS_FILE), so nobody can sign in to make exceptions."


def _template_source(name: str) -> str:
    return (_PACKAGE / "templates" / name).read_text(encoding="utf-8")


def template_environment() -> jinja2.Environment:
    """The templates of the package, autoescaped, with the console's formatting filters."""
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.filters.update(
        relative=overview.relative,
        duration=overview.duration,
        local_time=overview.local_time,
        utc_time=overview.utc_time,
        gpu_hours=overview.gpu_hours,
        dollars=overview.dollars,
    )
    return environment


class Console:
    """The console of one daemon: its sessions, page data and templates (see the module's docstring)."""

    def __init__(self, daemon: ConsoleFacts, guard: Guard, sessions: Sessions | None = None) -> None:
        self.daemon = daemon
        self.guard = guard
        self.sessions = sessions or Sessions(daemon.keys)
        self.data = PageData(daemon)
        self.templates = template_environment()
        self.assets = {name: (_PACKAGE / "static" / name).read_bytes() for name in ASSETS}

    # --- answers ---------------------------------------------------------------------

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        session = self._session(request)
        caller = self._caller(request, session)
        page = self.templates.get_template(name).render(
            caller=caller,
            can_write=caller is not None and caller.role == "operator" and self.daemon.keys.configured,
            csrf=session.csrf if session is not None else "",
            read_only_reason=None if self.daemon.keys.configured else NO_KEYS,
            signed_in=session is not None,
            now=self.daemon.clock(),
            **context,
        )
        return secured(HTMLResponse(page, status_code=status))

    def problem(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(request, "problem.html", status=status, status_code=status, message=message)

    def _session(self, request: Request) -> Session | None:
        if not self.daemon.keys.configured:
            return None
        return self.sessions.find(request.cookies.get(SESSION_COOKIE))

    def _caller(self, request: Request, session: Session | None) -> Caller | None:
        if not self.daemon.keys.configured:
            return ANONYMOUS
        return session.caller if session is not None else None

    def _reader(self, request: Request) -> Caller | Response:
        """The caller who may read the console, or the redirect to sign in."""
        caller = self._caller(request, self._session(request))
        if caller is None:
            return secured(RedirectResponse("/sign-in", status_code=303))
        return caller

    async def _writer(self, request: Request) -> tuple[Caller, dict[str, str]] | Response:
        """The operator of a POST with its form fields, or the refusal (403 page)."""
        if not self.daemon.keys.configured:
            return self.problem(request, 403, NO_KEYS)
        form = await _form(request)
        if isinstance(form, Response):
            return form
        session = self._session(request)
        if session is None:
            return self.problem(request, 403, "Sign in first: this needs an operator's session.")
        if not same_token(session.csrf, form.get("csrf")):
            log.warning("console_csrf_refused", path=request.url.path, caller=session.caller.name)
            return self.problem(request, 403, "The form's security token is missing or wrong: reload the page and try again.")
        if session.caller.role != "operator":
            log.warning("console_write_refused", path=request.url.path, caller=session.caller.name, role=session.caller.role)
            return self.problem(request, 403, f"{session.caller.name} has the role {session.caller.role}; this needs operator.")
        return session.caller, form

    # --- pages -------------------------------------------------------------------------

    async def overview_page(self, request: Request) -> Response:
        caller = self._reader(request)
        if isinstance(caller, Response):
            return caller
        params = request.query_params
        sort = params.get("sort", overview.DEFAULT_SORT)
        if sort not in overview.SORT_KEYS:
            return self.problem(request, 400, f"sort: must be one of {', '.join(overview.SORT_KEYS)}")
        number = params.get("page", "1")
        if not number.isdigit():
            return self.problem(request, 400, "page: must be a whole number from 1")
        now = self.daemon.clock()
        rows, totals = await self.data.overview(now)
        page = overview.page_of(
            rows, query=params.get("q", ""), sort=sort, descending=params.get("order") == "desc", number=int(number)
        )

        def link(**changes: Any) -> str:
            wanted = {"q": page.query, "sort": page.sort, "order": "desc" if page.descending else "asc", "page": page.number}
            wanted.update(changes)
            return "/?" + urlencode({key: value for key, value in wanted.items() if value not in ("", None)})

        return self.render(request, "overview.html", page=page, totals=totals, link=link)

    async def deployment_page(self, request: Request) -> Response:
        caller = self._reader(request)
        if isinstance(caller, Response):
            return caller
        wanted = request.path_params["deployment_id"]
        try:
            UUID(wanted)
        except ValueError:
            return self.problem(request, 404, f"No deployment has the id {wanted!r}.")
        page = await self.data.deployment(wanted, self.daemon.clock())
        if page is None:
            return self.problem(request, 404, f"The daemon lists no deployment with the id {wanted!r}.")
        return self.render(request, "deployment.html", page=page, durations=DURATIONS, error=None)

    async def exceptions_page(self, request: Request) -> Response:
        caller = self._reader(request)
        if isinstance(caller, Response):
            return caller
        active, ended = await self.data.exceptions(self.daemon.clock())
        names = self.daemon.deployment_names()
        return self.render(request, "exceptions.html", active=active, ended=ended, names=names)

    # --- sign-in -----------------------------------------------------------------------

    async def sign_in_page(self, request: Request) -> Response:
        token = secrets.token_urlsafe(32)
        response = self.render(request, "sign_in.html", sign_in_token=token, error=None)
        _set_cookie(response, request, SIGN_IN_COOKIE, token, max_age=3600)
        return response

    async def sign_in(self, request: Request) -> Response:
        if not self.daemon.keys.configured:
            return self.problem(request, 403, NO_KEYS)
        form = await _form(request)
        if isinstance(form, Response):
            return form
        expected = request.cookies.get(SIGN_IN_COOKIE, "")
        if not same_token(expected, form.get("csrf")):
            return self.problem(request, 403, "The form's security token is missing or wrong: reload the page and try again.")
        address = request.client.host if request.client is not None else "unknown"
        wait = self.guard.throttle.retry_after(address)
        if wait is not None:
            return self.problem(request, 429, f"Too many failed attempts: try again in {wait} s.")
        session = self.sessions.sign_in(form.get("key", "").strip())
        if session is None:
            self.guard.throttle.failed(address)
            log.warning("console_sign_in_refused", address=address)
            response = self.render(request, "sign_in.html", status=401, sign_in_token=expected, error="That key is not valid.")
            return response
        log.info("console_signed_in", caller=session.caller.name, role=session.caller.role)
        response = secured(RedirectResponse("/", status_code=303))
        _set_cookie(response, request, SESSION_COOKIE, session.id, max_age=SESSION_SECONDS)
        response.delete_cookie(SIGN_IN_COOKIE, path="/")
        return response

    async def sign_out(self, request: Request) -> Response:
        form = await _form(request)
        if isinstance(form, Response):
            return form
        session = self._session(request)
        if session is not None and same_token(session.csrf, form.get("csrf")):
            self.sessions.sign_out(session.id)
            log.info("console_signed_out", caller=session.caller.name)
        elif session is not None:
            return self.problem(request, 403, "The form's security token is missing or wrong: reload the page and try again.")
        response = secured(RedirectResponse("/sign-in", status_code=303))
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- writes ------------------------------------------------------------------------

    async def create_exception(self, request: Request) -> Response:
        checked = await self._writer(request)
        if isinstance(checked, Response):
            return checked
        caller, form = checked
        deployment_id = form.get("deployment", "")
        now = self.daemon.clock()
        page = await self.data.deployment(deployment_id, now) if _is_uuid(deployment_id) else None
        if page is None:
            return self.problem(request, 404, f"The daemon lists no deployment with the id {deployment_id!r}.")
        try:
            document = exception_document(form, deployment_id, page.row.timezone, now)
            await record_exception(self.daemon, parse_exception_request(document, now), caller)
        except BodyError as problem:
            field = {"for": "duration", "until": "duration"}.get(problem.field or "", problem.field)
            message = f"{field}: {str(problem).split(': ', 1)[-1]}" if field else str(problem)
            return self.render(request, "deployment.html", status=400, page=page, durations=DURATIONS, error=message)
        except Refused as refused:
            return self.problem(request, refused.status, refused.message)
        except StoreError as failure:
            log.error("console_store_failed", error=str(failure))
            return self.problem(request, 503, f"The state store cannot be used: {failure}")
        return secured(RedirectResponse(f"/deployments/{deployment_id}", status_code=303))

    async def end_exception(self, request: Request) -> Response:
        checked = await self._writer(request)
        if isinstance(checked, Response):
            return checked
        caller, form = checked
        try:
            await end_exception(self.daemon, request.path_params["exception_id"], caller)
        except Refused as refused:
            return self.problem(request, refused.status, refused.message)
        except StoreError as failure:
            log.error("console_store_failed", error=str(failure))
            return self.problem(request, 503, f"The state store cannot be used: {failure}")
        back = form.get("back", "")
        return secured(RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/exceptions", status_code=303))

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.assets:
            return self.problem(request, 404, "No such file.")
        response = Response(self.assets[name], media_type=ASSETS[name])
        response.headers.update(SECURITY_HEADERS)
        response.headers["Cache-Control"] = "max-age=300"
        return response

    def routes(self) -> list[Route]:
        """The console's routes, at ``/``."""
        return [
            Route("/", self.overview_page, methods=["GET", "HEAD"]),
            Route("/deployments/{deployment_id}", self.deployment_page, methods=["GET", "HEAD"]),
            Route("/exceptions", self.exceptions_page, methods=["GET", "HEAD"]),
            Route("/exceptions/new", self.create_exception, methods=["POST"]),
            Route("/exceptions/{exception_id}/end", self.end_exception, methods=["POST"]),
            Route("/sign-in", self.sign_in_page, methods=["GET", "HEAD"]),
            Route("/sign-in", self.sign_in, methods=["POST"]),
            Route("/sign-out", self.sign_out, methods=["POST"]),
            Route("/assets/{name}", self.asset, methods=["GET", "HEAD"]),
        ]


def exception_document(form: dict[str, str], deployment_id: str, zone: str, now: datetime) -> dict[str, Any]:
    """The control API's body for the exception form's ``action`` on ``deployment_id`` (``zone``: the
    policy's, for "until tomorrow 09:00"). Raises :class:`BodyError` naming the form's field."""
    action = form.get("action", "")
    if action not in ACTIONS:
        raise BodyError(f"must be one of {', '.join(ACTIONS)}", field="action")
    kind, state, duration = ACTIONS[action]
    document: dict[str, Any] = {"kind": kind, "target": {"deployment": deployment_id}, "reason": form.get("reason", "")}
    if state is not None:
        document["state"] = state
    if action == "keep_tomorrow":
        document["until"] = tomorrow_morning(now, zone).isoformat()
    elif duration is not None:
        document["for"] = duration
    else:
        chosen = form.get("duration", "")
        if chosen not in DURATIONS:
            raise BodyError(f"must be one of {', '.join(DURATIONS)}", field="duration")
        document["for"] = chosen
    return document


def tomorrow_morning(now: datetime, zone: str) -> datetime:
    """Tomorrow at :data:`TOMORROW_AT` in ``zone`` (UTC for a zone this machine does not know)."""
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    local = now.astimezone(tz) + timedelta(days=1)
    hour, minute = TOMORROW_AT
    return datetime(local.year, local.month, local.day, hour, minute, tzinfo=tz)


def secured(response: Response) -> Response:
    """``response`` with the console's security headers, never cached."""
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    return response


def _set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


async def _form(request: Request) -> dict[str, str] | Response:
    """The POST's form fields (URL-encoded, :data:`MAX_BODY_BYTES` at most; the first of a repeated
    field), or a 413/415 answer. Parsed by the standard library: the forms are flat text."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return secured(HTMLResponse("the form must be sent as application/x-www-form-urlencoded", status_code=415))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return secured(HTMLResponse(f"the form is larger than {MAX_BODY_BYTES} bytes", status_code=413))
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return secured(HTMLResponse("the form is not valid URL-encoded UTF-8 text", status_code=400))
    form: dict[str, str] = {}
    for key, value in fields:
        form.setdefault(key, value)
    return form
