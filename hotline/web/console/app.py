"""The duty officer's console: server-rendered pages (Jinja2), in the operator's
language, kept live by a Server-Sent Events stream and small HTML fragments.

Mounted on the node's local listener beside the local API. Every endpoint checks
the session and the permission it needs on the server; every action is audited.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...accounts.audit import OUTCOMES, AuditFilterError, audit_filter, parse_before
from ...accounts.results import AuditEntry
from ...accounts.roles import Permission
from ...accounts.service import AccountService
from ...agreed_texts import CATALOGUE, DECLINE_REASONS
from ...node.clock import now_ms
from ...node.desk import MAX_SESSION_TEXT, Desk, Person
from ...node.home import NodeError
from ...node.refusals import Refused
from ...node.service import MAX_TEXT_CHARS, Node
from ...storage.database import make_sessionmaker
from . import pages
from .auth import (
    CSRF_FIELD,
    FETCH_HEADER,
    LANGUAGE_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Gate,
    LoginRequired,
    Operator,
    client_address,
    new_login_csrf,
    request_language,
    secure_cookies,
)
from .i18n import LANGUAGES, N_, local_and_utc, translations
from .outside import outside, outside_attribute

MAX_FORM_TEXT = MAX_TEXT_CHARS
AUDIT_PAGE_SIZE = 100
MAX_FILTER_ECHO = 200  # the most of a filter the audit page shows back in its form
RESPOND_BY_HOURS = (1, 4, 12, 24, 72)
STREAM_POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# How often an open stream re-checks its session: a revoked or disabled operator's
# console stops receiving within this time (and the check keeps a watched console
# from timing out for inactivity).
SESSION_CHECK_SECONDS = 5.0
LANGUAGE_TAGS = {"en", "zh-Hans"}
# An audit row's outcome as the audit page shows it (translated there).
OUTCOME_LABELS = {"ok": N_("allowed"), "refused": N_("refused")}


class Invalid(Exception):
    """Input refused before anything is written; ``message`` is an English source
    string, translated when shown."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message)
        self.message = message
        self.values = values


def create_console(app: FastAPI, node: Node) -> None:
    """Add the console's routes to the local app."""
    accounts = AccountService(
        node.sessions, readers=make_sessionmaker(node.engine, read_only=True), party=node.party
    )
    gate = Gate(accounts)
    desk = Desk(node)
    env = Environment(
        loader=PackageLoader("hotline.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        LANGUAGES=LANGUAGES,
        DECLINE_REASONS=DECLINE_REASONS,
        RESPOND_BY_HOURS=RESPOND_BY_HOURS,
        CSRF_FIELD=CSRF_FIELD,
        MAX_TEXT=MAX_FORM_TEXT,
        MAX_SESSION_TEXT=MAX_SESSION_TEXT,
        Permission=Permission,
        OUTCOME_LABELS=OUTCOME_LABELS,
        party=node.party,
    )
    env.filters.update(outside=outside, inert=outside_attribute)
    static = files("hotline.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    def render(
        request: Request,
        template: str,
        operator: Operator | None,
        *,
        status: int = 200,
        language: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        html = render_text(request, template, operator, language=language, **context)
        return HTMLResponse(html, status_code=status)

    def render_text(
        request: Request,
        template: str,
        operator: Operator | None,
        *,
        language: str | None = None,
        **context: Any,
    ) -> str:
        lang = language or (operator.user.language if operator else request_language(request))
        zone = operator.user.timezone if operator else "UTC"
        catalogue = translations(lang)

        def gettext(message: str, **values: Any) -> str:
            text = catalogue.gettext(message)
            if not values:
                return text
            if any(isinstance(v, Markup) for v in values.values()):
                # A value already made safe (text from outside, isolated): escape the
                # rest and keep it as it is.
                return Markup(escape(text)).format(**values)
            return text.format(**values)

        def when(ms: int | None) -> str:
            return local_and_utc(ms, lang, zone)

        def duration(ms: int) -> str:
            seconds = max(0, ms) // 1000
            if seconds < 120:
                return gettext("{n} s", n=seconds)
            if seconds < 7200:
                return gettext("{n} min", n=seconds // 60)
            return gettext("{h} h {m} min", h=seconds // 3600, m=seconds % 3600 // 60)

        def agreed(text_id: str, parameters: dict[str, Any]) -> str:
            text = CATALOGUE.get(text_id)
            if text is None:
                return gettext("(unknown agreed text {id})", id=text_id)
            try:
                return text.render(lang, parameters)
            except KeyError:
                return gettext("(agreed text {id} with missing parameters)", id=text_id)

        return env.get_template(template).render(
            request=request,
            operator=operator,
            lang=lang,
            _=gettext,
            when=when,
            duration=duration,
            agreed=agreed,
            now_ms=now_ms(),
            csrf=operator.session.csrf_token if operator else "",
            **context,
        )

    def for_people(request: Request) -> bool:
        return not request.url.path.startswith(
            ("/api/", "/peer/")
        ) and "text/html" in request.headers.get("accept", "")

    def refusal_page(request: Request, status: int) -> Response:
        message = _REFUSALS.get(status, N_("The request was refused."))
        shown = translations(request_language(request)).gettext(message)
        return render(request, "error.html", None, status=status, message=shown, back="/")

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> Response:
        """People get a page in their language; scripts (the API, fetches) get JSON."""
        if not for_people(request):
            return await http_exception_handler(request, exc)
        return refusal_page(request, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_form(request: Request, exc: RequestValidationError) -> Response:
        if not for_people(request):
            return await request_validation_exception_handler(request, exc)
        return refusal_page(request, 422)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        """Pages and forms go to the login page (saying why); the page's own fetches
        get 401 so its script can send the whole page there."""
        if request.headers.get(FETCH_HEADER) or "text/html" not in request.headers.get(
            "accept", ""
        ):
            return Response(
                json.dumps({"error": "login required"}),
                status_code=401,
                media_type="application/json",
            )
        return RedirectResponse("/login?ended=1", status_code=303)

    async def operator_for(
        request: Request, permission: Permission | None, csrf: str | None = None
    ) -> Operator:
        return await gate.operator(request, permission, form_csrf=csrf)

    async def act(
        request: Request,
        operator: Operator,
        action: str,
        target: str,
        work: Callable[[], Any],
        back: str,
        routine_offer: dict[str, str] | None = None,
    ) -> Response:
        """Run a desk action, audit it, and answer: a redirect for forms, JSON for fetch.
        ``routine_offer`` (the text and language) lets a refused emergency activation
        be sent on the routine channel with one click."""
        try:
            await to_thread.run_sync(work)
        except (NodeError, Invalid) as exc:
            message, values = (
                (exc.message, exc.values) if isinstance(exc, Invalid) else _desk_refusal(exc)
            )
            # The English text with its values filled in (the audit log is not translated).
            reason = exc.message.format(**exc.values) if isinstance(exc, Invalid) else str(exc)
            await to_thread.run_sync(
                lambda: accounts.audit(
                    operator.user.username,
                    action,
                    target,
                    "refused",
                    {"reason": reason},
                    client_address(request),
                )
            )
            catalogue = translations(operator.user.language)
            shown = (
                catalogue.gettext(message).format(**values)
                if values
                else catalogue.gettext(message)
            )
            if _wants_json(request):
                return Response(
                    json.dumps({"error": shown}), status_code=400, media_type="application/json"
                )
            offer = (
                routine_offer if isinstance(exc, Refused) and exc.code in ROUTINE_OFFER else None
            )
            return render(
                request,
                "error.html",
                operator,
                status=400,
                message=shown,
                back=back,
                routine_offer=offer,
            )
        await to_thread.run_sync(
            lambda: accounts.audit(
                operator.user.username, action, target, "ok", None, client_address(request)
            )
        )
        if _wants_json(request):
            return Response('{"ok": true}', media_type="application/json")
        return RedirectResponse(back, status_code=303)

    async def bar(operator: Operator) -> dict[str, Any]:
        """The call bar and the attention bar, shown on every page."""
        who = person(operator)
        may_approve = operator.can(Permission.APPROVE_EMERGENCY)

        def read() -> dict[str, Any]:
            stamp = now_ms()
            return {
                "live_calls": pages.live_calls(node, stamp),
                "attention": pages.attention(node, who, can_approve=may_approve, now=stamp),
            }

        return await to_thread.run_sync(read)

    def person(operator: Operator) -> Person:
        user = operator.user
        return Person(user.username, user.display_name, user.role.value)

    # Login -------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, lang: str | None = None, ended: str = "") -> Response:
        language = lang if lang in LANGUAGES else request_language(request)
        token = new_login_csrf()
        notice = N_("Your session has ended. Please log in again.") if ended else None
        response = render(
            request, "login.html", None, language=language, login_csrf=token, notice=notice
        )
        _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=31_536_000, samesite="strict")
        return response

    @app.post("/login")
    async def login(
        request: Request,
        username: Annotated[str, Form(max_length=128)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
        totp: Annotated[str, Form(max_length=16)] = "",
        csrf: Annotated[str, Form(max_length=128)] = "",
    ) -> Response:
        language = request_language(request)
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not expected or not csrf or not _same(expected, csrf):
            await gate.refuse(request, None, "csrf", "login without its CSRF token")
            return render(
                request,
                "login.html",
                None,
                status=403,
                language=language,
                login_csrf=expected or "",
                error=N_("The form has expired. Please try again."),
            )
        address = client_address(request)
        agent = request.headers.get("user-agent")
        result = await to_thread.run_sync(
            lambda: accounts.authenticate(username, password, totp or None, address, agent)
        )
        if result.user is None:
            return render(
                request,
                "login.html",
                None,
                status=401,
                language=language,
                login_csrf=expected,
                error=N_("Wrong name, password or code, or the account is locked."),
                username=username[:64],
            )
        user = result.user
        new = await to_thread.run_sync(
            lambda: accounts.create_session(user.id, address=address, user_agent=agent)
        )
        response = RedirectResponse("/", status_code=303)
        _set_cookie(request, response, SESSION_COOKIE, new.token, max_age=12 * 3600)
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout")
    async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        operator = await operator_for(request, None, csrf)
        token = request.cookies.get(SESSION_COOKIE, "")
        await to_thread.run_sync(
            lambda: accounts.revoke_session(token, address=client_address(request))
        )
        response = RedirectResponse(f"/login?lang={operator.user.language}", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.post("/language")
    async def set_language(
        request: Request,
        language: Annotated[str, Form()] = "",
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, None, csrf)
        if language not in LANGUAGES:
            raise HTTPException(400, "unknown language")
        await to_thread.run_sync(
            lambda: accounts.update_user(
                operator.user.username,
                language=language,
                actor=operator.user.username,
                address=client_address(request),
            )
        )
        response = RedirectResponse(_local_path(back), status_code=303)
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=31_536_000, samesite="strict")
        return response

    # Pages -------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def board(request: Request) -> Response:
        operator = await operator_for(request, Permission.VIEW_LINKS)
        after = await to_thread.run_sync(lambda: _last_event_id(node))
        rows = await to_thread.run_sync(lambda: pages.link_board(node, now_ms()))
        return render(
            request, "board.html", operator, rows=rows, events_after=after, **await bar(operator)
        )

    @app.get("/fragments/board", response_class=HTMLResponse)
    async def board_fragment(request: Request) -> Response:
        operator = await operator_for(request, Permission.VIEW_LINKS)
        rows = await to_thread.run_sync(lambda: pages.link_board(node, now_ms()))
        return render(request, "_board.html", operator, rows=rows)

    @app.get("/fragments/calls", response_class=HTMLResponse)
    async def calls_fragment(request: Request) -> Response:
        operator = await operator_for(request, Permission.VIEW_LINKS)
        return render(request, "_callbar.html", operator, **await bar(operator))

    @app.get("/links/{link_name}", response_class=HTMLResponse)
    async def conversation(request: Request, link_name: str, before: str | None = None) -> Response:
        operator = await operator_for(request, Permission.VIEW_MESSAGES)
        after = await to_thread.run_sync(lambda: _last_event_id(node))
        page = await to_thread.run_sync(lambda: pages.conversation(node, link_name, before=before))
        if page is None:
            raise HTTPException(404, "no such link")
        found = page
        policy = await to_thread.run_sync(lambda: desk.policy(found.link.id))
        if operator.can(Permission.ACKNOWLEDGE):
            shown = [
                r.id
                for r in page.rows
                if r.message.direction == "in" and r.message.displayed_ms is None
            ]
            if shown:
                await to_thread.run_sync(lambda: _mark_displayed(desk, shown, person(operator)))
                page = await to_thread.run_sync(
                    lambda: pages.conversation(node, link_name, before=before)
                )
                assert page is not None
        return render(
            request,
            "conversation.html",
            operator,
            page=page,
            before=before,
            policy=policy,
            **await bar(operator),
            events_after=after,
        )

    @app.get("/messages/{message_id}/fragment", response_class=HTMLResponse)
    async def message_fragment(request: Request, message_id: str) -> Response:
        operator = await operator_for(request, Permission.VIEW_MESSAGES)
        found = await to_thread.run_sync(lambda: pages.message_row(node, message_id))
        if found is None:
            raise HTTPException(404, "no such message")
        link, row = found
        return render(request, "_message.html", operator, link=link, row=row)

    @app.get("/links/{link_name}/drafts/fragment", response_class=HTMLResponse)
    async def drafts_fragment(request: Request, link_name: str) -> Response:
        operator = await operator_for(request, Permission.VIEW_MESSAGES)
        page = await to_thread.run_sync(lambda: pages.conversation(node, link_name))
        if page is None:
            raise HTTPException(404, "no such link")
        return render(request, "_drafts.html", operator, page=page)

    @app.get("/links/{link_name}/calls", response_class=HTMLResponse)
    async def call_history(request: Request, link_name: str) -> Response:
        operator = await operator_for(request, Permission.VIEW_MESSAGES)
        after = await to_thread.run_sync(lambda: _last_event_id(node))
        try:
            link = await to_thread.run_sync(lambda: node.find_link(link_name))
        except NodeError:
            raise HTTPException(404, "no such link") from None
        calls = await to_thread.run_sync(lambda: pages.call_rows(node, link.id))
        counts = {state: sum(1 for c in calls if c["state"] == state) for state in _CALL_STATES}
        return render(
            request,
            "calls.html",
            operator,
            link=link,
            calls=calls,
            counts=counts,
            **await bar(operator),
            events_after=after,
        )

    @app.get("/links/{link_name}/stats", response_class=HTMLResponse)
    async def link_stats(request: Request, link_name: str, bucket: str = "day") -> Response:
        operator = await operator_for(request, Permission.VIEW_MESSAGES)
        if bucket not in ("day", "hour"):
            raise HTTPException(400, "bucket must be day or hour")
        try:
            usage = await to_thread.run_sync(lambda: desk.usage(link_name, bucket=bucket))
        except NodeError:
            raise HTTPException(404, "no such link") from None
        return render(
            request,
            "stats.html",
            operator,
            usage=usage.view(),
            link_name=link_name,
            **await bar(operator),
        )

    @app.get("/calls/{call_id}", response_class=HTMLResponse)
    async def call_page(request: Request, call_id: str) -> Response:
        operator = await operator_for(request, Permission.VIEW_MESSAGES)
        after = await to_thread.run_sync(lambda: _last_event_id(node))
        found = await to_thread.run_sync(lambda: pages.call_detail(node, call_id))
        if found is None:
            raise HTTPException(404, "no such call")
        call, link, lines = found
        return render(
            request,
            "call.html",
            operator,
            call=call,
            link=link,
            lines=lines,
            present=pages.presence(lines),
            participants=pages.participants(lines),
            events_after=after,
            **await bar(operator),
        )

    @app.get("/calls/{call_id}/fragment", response_class=HTMLResponse)
    async def call_fragment(request: Request, call_id: str) -> Response:
        operator = await operator_for(request, Permission.VIEW_MESSAGES)
        found = await to_thread.run_sync(lambda: pages.call_detail(node, call_id))
        if found is None:
            raise HTTPException(404, "no such call")
        call, link, lines = found
        return render(
            request,
            "_session.html",
            operator,
            call=call,
            link=link,
            lines=lines,
            present=pages.presence(lines),
            participants=pages.participants(lines),
        )

    # Audit log and record export --------------------------------------------------

    @app.get("/audit", response_class=HTMLResponse)
    async def audit_page(
        request: Request,
        user: str = "",
        action: str = "",
        outcome: str = "",
        since: str = "",
        until: str = "",
        before: str = "",
    ) -> Response:
        """The audit log, newest first, a page at a time. Reading it is not itself
        audited (a refused attempt is, by the gate)."""
        operator = await operator_for(request, Permission.VIEW_AUDIT)
        form = {
            "user": user[:MAX_FILTER_ECHO],
            "action": action[:MAX_FILTER_ECHO],
            "outcome": outcome[:MAX_FILTER_ECHO],
            "since": since[:MAX_FILTER_ECHO],
            "until": until[:MAX_FILTER_ECHO],
        }
        entries: list[AuditEntry] = []
        older: str | None = None
        error: str | None = None
        try:
            filters = audit_filter(
                username=user,
                action=action,
                outcome=outcome,
                since=_day(since, "since"),
                until=_day(until, "until"),
                time_zone=operator.user.timezone,
            )
            cursor = parse_before(before)
            entries = await to_thread.run_sync(
                lambda: accounts.audit_entries(AUDIT_PAGE_SIZE + 1, cursor, filters)
            )
        except AuditFilterError as exc:
            message = _AUDIT_FILTER_REFUSALS.get(exc.field, N_("The request was not valid."))
            error = translations(operator.user.language).gettext(message)
        if len(entries) > AUDIT_PAGE_SIZE:
            entries = entries[:AUDIT_PAGE_SIZE]
            kept = {k: v for k, v in form.items() if v}
            older = "/audit?" + urlencode({**kept, "before": entries[-1].id})
        rows = [(e, json.dumps(e.detail, ensure_ascii=False, sort_keys=True)) for e in entries]
        return render(
            request,
            "audit.html",
            operator,
            status=400 if error else 200,
            rows=rows,
            form=form,
            outcomes=OUTCOMES,
            older=older,
            paged=bool(before),
            error=error,
            **await bar(operator),
        )

    @app.get("/links/{link_name}/export")
    async def export_record(request: Request, link_name: str) -> Response:
        """The link's record as a bundle file, the same as ``hotline export`` writes:
        checked offline with ``hotline verify FILE``. Every download is audited."""
        operator = await operator_for(request, Permission.EXPORT_RECORD)
        address = client_address(request)
        try:
            bundle = await to_thread.run_sync(lambda: node.export(link_name))
        except NodeError as exc:
            reason = str(exc)
            await to_thread.run_sync(
                lambda: accounts.audit(
                    operator.user.username,
                    "record.export",
                    link_name[:256],
                    "refused",
                    {"reason": reason},
                    address,
                )
            )
            raise HTTPException(404, "no such link") from None
        body = await to_thread.run_sync(bundle.to_json)
        stamp = datetime.fromtimestamp(bundle.exported_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"hotline-{_file_part(node.party)}-{_file_part(bundle.link_name)}-{stamp}.json"
        detail = {"entries": len(bundle.entries), "link_id": bundle.link_id, "file": name}
        await to_thread.run_sync(
            lambda: accounts.audit(
                operator.user.username, "record.export", bundle.link_name, "ok", detail, address
            )
        )
        return Response(
            body,
            media_type="application/json",
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                "cache-control": "no-store",
            },
        )

    # Actions -----------------------------------------------------------------

    @app.post("/links/{link_name}/messages")
    async def send_message(
        request: Request,
        link_name: str,
        text: Annotated[str, Form(max_length=MAX_FORM_TEXT * 2)] = "",
        lang: Annotated[str, Form(max_length=16)] = "en",
        ref: Annotated[str, Form(max_length=26)] = "",
        intent: Annotated[str, Form(max_length=8)] = "send",
        channel: Annotated[str, Form(max_length=16)] = "routine",
        criterion: Annotated[str, Form(max_length=64)] = "",
        justification: Annotated[str, Form(max_length=2000)] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        """Compose: a new message goes at once; a reply goes to a principal first when
        the link requires it and the author may not approve replies. ``intent=draft``
        only saves it."""
        operator = await operator_for(request, Permission.SAVE_DRAFT, csrf)
        back = f"/links/{link_name}"

        def work() -> None:
            clean = _message_text(text)
            if lang not in LANGUAGE_TAGS:
                raise Invalid("Unknown language.")
            if intent not in ("send", "draft"):
                raise Invalid("Choose send or save as draft.")
            if channel not in ("routine", "emergency"):
                raise Invalid("Choose the routine or the emergency channel.")
            link = node.find_link(link_name)
            who = person(operator)
            if channel == "emergency":
                if intent != "send":
                    raise Invalid("An emergency activation is sent, not saved as a draft.")
                if not operator.can(Permission.ACTIVATE_EMERGENCY):
                    raise Invalid("Your role may not activate the emergency channel.")
                if ref:
                    raise Invalid("An emergency activation is a new message, not a reply.")
                desk.activate_emergency(
                    link.name,
                    who,
                    criterion=criterion or None,
                    justification=justification.strip() or None,
                    text=clean,
                    lang=lang,
                )
                return
            draft = desk.save_draft(link.id, who, clean, lang=lang, ref=ref or None)
            if intent == "send" and operator.can(Permission.SEND_MESSAGE):
                desk.submit_draft(draft.id, who, may_send=operator.can(Permission.APPROVE_REPLY))

        offer = {"action": f"/links/{link_name}/messages", "text": text, "lang": lang}
        return await act(request, operator, "message.compose", link_name, work, back, offer)

    @app.post("/drafts/{draft_id}/submit")
    async def submit_draft(
        request: Request,
        draft_id: int,
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, Permission.SEND_MESSAGE, csrf)
        may = operator.can(Permission.APPROVE_REPLY)
        return await act(
            request,
            operator,
            "draft.submit",
            str(draft_id),
            lambda: desk.submit_draft(draft_id, person(operator), may_send=may),
            _local_path(back),
        )

    @app.post("/drafts/{draft_id}/save")
    async def save_draft(
        request: Request,
        draft_id: int,
        text: Annotated[str, Form(max_length=MAX_FORM_TEXT * 2)] = "",
        lang: Annotated[str, Form(max_length=16)] = "en",
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        """The author's edit of a draft; what it replies to is kept from the draft."""
        operator = await operator_for(request, Permission.SAVE_DRAFT, csrf)

        def work() -> None:
            clean = _message_text(text)
            if lang not in LANGUAGE_TAGS:
                raise Invalid("Unknown language.")
            desk.edit_draft(draft_id, person(operator), clean, lang=lang)

        return await act(request, operator, "draft.save", str(draft_id), work, _local_path(back))

    @app.post("/drafts/{draft_id}/discard")
    async def discard_draft(
        request: Request,
        draft_id: int,
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, Permission.SAVE_DRAFT, csrf)
        return await act(
            request,
            operator,
            "draft.discard",
            str(draft_id),
            lambda: desk.discard_draft(draft_id, person(operator)),
            _local_path(back),
        )

    @app.post("/drafts/{draft_id}/decide")
    async def decide_draft(
        request: Request,
        draft_id: int,
        decision: Annotated[str, Form()] = "",
        note: Annotated[str, Form(max_length=1000)] = "",
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, Permission.APPROVE_REPLY, csrf)

        def work() -> None:
            if decision not in ("approve", "reject"):
                raise Invalid("Choose approve or send back.")
            desk.decide_draft(draft_id, person(operator), approve=decision == "approve", note=note)

        return await act(
            request, operator, f"draft.{decision}", str(draft_id), work, _local_path(back)
        )

    @app.post("/emergencies/{activation_id}/decide")
    async def decide_emergency(
        request: Request,
        activation_id: int,
        decision: Annotated[str, Form()] = "",
        note: Annotated[str, Form(max_length=500)] = "",
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, Permission.APPROVE_EMERGENCY, csrf)

        def work() -> None:
            if decision not in ("approve", "reject"):
                raise Invalid("Choose approve or reject.")
            desk.decide_emergency(
                activation_id, person(operator), approve=decision == "approve", note=note
            )

        return await act(
            request, operator, f"emergency.{decision}", str(activation_id), work, _local_path(back)
        )

    @app.post("/link-tests/{test_id}/confirm")
    async def confirm_link_test(
        request: Request,
        test_id: str,
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, Permission.ACKNOWLEDGE, csrf)
        return await act(
            request,
            operator,
            "link_test.confirm",
            test_id,
            lambda: desk.confirm_link_test(test_id, person(operator)),
            _local_path(back),
        )

    @app.post("/alerts/{alert_id}/clear")
    async def clear_alert(
        request: Request,
        alert_id: int,
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        # Every signed-in operator may clear an alert shown to them (Desk.clear_alert).
        operator = await operator_for(request, Permission.VIEW_LINKS, csrf)
        return await act(
            request,
            operator,
            "alert.clear",
            str(alert_id),
            lambda: desk.clear_alert(alert_id, person(operator)),
            _local_path(back),
        )

    @app.post("/messages/{message_id}/displayed")
    async def displayed(
        request: Request, message_id: str, csrf: Annotated[str, Form()] = ""
    ) -> Response:
        operator = await operator_for(request, Permission.ACKNOWLEDGE, csrf)
        changed = await to_thread.run_sync(lambda: desk.displayed(message_id, person(operator)))
        return Response(json.dumps({"recorded": changed}), media_type="application/json")

    @app.post("/messages/{message_id}/acknowledge")
    async def acknowledge(
        request: Request,
        message_id: str,
        hours: Annotated[int, Form(ge=1, le=168)] = 24,
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, Permission.ACKNOWLEDGE, csrf)

        def work() -> None:
            if hours not in RESPOND_BY_HOURS:
                raise Invalid("Choose one of the offered response times.")
            desk.acknowledge(
                message_id, person(operator), respond_by_ms=now_ms() + hours * 3_600_000
            )

        return await act(
            request, operator, "message.acknowledge", message_id, work, _local_path(back)
        )

    @app.post("/links/{link_name}/calls")
    async def request_call(
        request: Request,
        link_name: str,
        topic: Annotated[str, Form(max_length=200)] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, Permission.REQUEST_CALL, csrf)

        def work() -> None:
            link = node.find_link(link_name)
            desk.request_call(link.id, person(operator), topic=topic.strip())

        return await act(request, operator, "call.request", link_name, work, f"/links/{link_name}")

    @app.post("/calls/{call_id}/answer")
    async def answer_call(
        request: Request,
        call_id: str,
        decision: Annotated[str, Form()] = "",
        reason: Annotated[str, Form(max_length=64)] = "",
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, Permission.ANSWER_CALL, csrf)

        def work() -> None:
            if decision not in ("accept", "decline"):
                raise Invalid("Choose accept or decline.")
            if reason and reason not in DECLINE_REASONS:
                raise Invalid("Choose a reason from the agreed list.")
            desk.answer_call(
                call_id, person(operator), accept=decision == "accept", reason=reason or None
            )

        after = f"/calls/{call_id}" if decision == "accept" else _local_path(back)
        return await act(request, operator, f"call.{decision}", call_id, work, after)

    @app.post("/calls/{call_id}/end")
    async def end_call(
        request: Request,
        call_id: str,
        outcome: Annotated[str, Form()] = "end",
        back: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, None, csrf)
        if not (operator.can(Permission.ANSWER_CALL) or operator.can(Permission.REQUEST_CALL)):
            await gate.refuse(request, operator, "forbidden", "end call")
            raise HTTPException(403, "forbidden")

        def work() -> None:
            if outcome not in ("end", "cancel"):
                raise Invalid("Unknown call action.")
            desk.end_call(call_id, person(operator), outcome=outcome)

        after = _local_path(back) if back else f"/calls/{call_id}"
        return await act(request, operator, f"call.{outcome}", call_id, work, after)

    @app.post("/calls/{call_id}/text")
    async def session_text(
        request: Request,
        call_id: str,
        text: Annotated[str, Form(max_length=MAX_SESSION_TEXT * 2)] = "",
        kind: Annotated[str, Form(max_length=8)] = "text",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        operator = await operator_for(request, Permission.SESSION_TEXT, csrf)

        def work() -> None:
            if kind not in ("text", "join", "leave"):
                raise Invalid("Unknown session line.")
            if kind == "text" and not text.strip():
                raise Invalid("Write something first.")
            desk.session_text(call_id, person(operator), text.strip(), kind=kind)

        return await act(request, operator, f"session.{kind}", call_id, work, f"/calls/{call_id}")

    # Live updates ---------------------------------------------------------------

    @app.get("/console/events")
    async def console_events(
        request: Request, after: str = "", link: str = ""
    ) -> StreamingResponse:
        """From the event after the one the page was rendered at (``after``), or
        after ``Last-Event-ID`` when the browser reconnects, or from now. Notes about
        messages on the ``link`` the page shows carry the message's rendered row, which
        saves the page a round trip."""
        operator = await operator_for(request, Permission.VIEW_LINKS)
        resume = request.headers.get("last-event-id", "")
        if resume.isdigit():
            start = int(resume)
        elif after.isdigit():
            start = int(after)
        else:
            start = await to_thread.run_sync(lambda: _last_event_id(node))

        def message_html(message_id: str) -> str | None:
            found = pages.message_row(node, message_id)
            if found is None:
                return None
            shown_link, row = found
            return render_text(request, "_message.html", operator, link=shown_link, row=row)

        token = request.cookies.get(SESSION_COOKIE)

        def still_valid() -> bool:
            # A console left open on a quiet watch stays logged in (the lookup records
            # activity), up to the session's absolute limit; revocation ends it.
            return accounts.lookup_session(token) is not None

        inline = message_html if link else None
        return StreamingResponse(
            _stream(node, request, start, link, inline, still_valid),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )


# The node's refusals, in words the console can translate (the log keeps the original).
_DESK_REFUSALS: tuple[tuple[str, str], ...] = (
    (
        r"this message has already been acknowledged",
        N_("This message has already been acknowledged."),
    ),
    (r"the promised response time", N_("The promised response time must be in the future.")),
    (r"a draft needs text", N_("Write a message first.")),
    (r"only the author can", N_("Only the author can change, submit or discard a draft.")),
    (
        r"a call on this link is already",
        N_("A call on this link is already ringing or in progress."),
    ),
    (r"no incoming message", N_("No such incoming message.")),
    (r"no draft", N_("No such draft.")),
    (r"draft \d+ is", N_("That draft is no longer waiting for this step.")),
    (r"no (such )?call", N_("No such call.")),
    (r"the call is", N_("That call has already been answered, or has ended.")),
    (r"session text must be", N_("The line is too long.")),
    (r"unknown decline reason", N_("Choose a reason from the agreed list.")),
    (r"no link|unknown link|link .* not found", N_("No such link.")),
)


_CODED_REFUSALS = {
    "not_an_emergency": N_(
        "This is not an emergency under the link's policy: name one of the agreed "
        "criteria, or send it on the routine channel."
    ),
    "no_policy": N_(
        "No policy signed by both sides is in force on this link yet, so the emergency "
        "channel cannot be used. Send it on the routine channel."
    ),
    "unknown_criterion": N_(
        "That is not one of the emergency criteria agreed on this link. Choose one, or "
        "send it on the routine channel."
    ),
    "justification_required": N_("Give a short justification for the emergency."),
    "justification_too_long": N_("The justification is too long."),
    "self_approval": N_("A second operator must approve: you cannot approve your own activation."),
    "not_awaiting_approval": N_("That activation is no longer awaiting approval."),
    "unknown_activation": N_("No such emergency activation."),
    "forbidden": N_("Your role does not allow this."),
    "unknown_test": N_("No such link test."),
    "already_confirmed": N_("That link test has already been confirmed."),
    "test_lapsed": N_(
        "That link test can no longer be confirmed: its time to confirm has passed, and "
        "the other side has counted it as missed."
    ),
    "unknown_alert": N_("No such alert."),
    "already_cleared": N_("That alert has already been cleared."),
    "not_addressed": N_("That alert is not addressed to you: it was not cleared."),
}
# Refusals after which the console offers to send the same text as routine.
ROUTINE_OFFER = frozenset({"not_an_emergency", "no_policy", "unknown_criterion"})


def _desk_refusal(exc: NodeError) -> tuple[str, dict[str, Any]]:
    if isinstance(exc, Refused) and exc.code in _CODED_REFUSALS:
        return _CODED_REFUSALS[exc.code], {}
    text = str(exc)
    for pattern, message in _DESK_REFUSALS:
        if re.match(pattern, text):
            return message, {}
    return N_("Refused by the node: {reason}"), {"reason": text}


_AUDIT_FILTER_REFUSALS = {
    "user": N_("The user name to look for is too long, or contains control characters."),
    "action": N_("The action to look for is too long, or contains control characters."),
    "outcome": N_("Choose an outcome from the list."),
    "since": N_("The first day is not a date: use the form YYYY-MM-DD."),
    "until": N_("The last day is not a date: use the form YYYY-MM-DD."),
    "range": N_("The last day comes before the first day."),
    "before": N_("That page of the audit log does not exist."),
}


def _day(value: str, field: str) -> str:
    """The audit page's range is in whole days (the operator's): a time is refused."""
    text = value.strip()
    if text and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise AuditFilterError(field, f"{field} must be a date (YYYY-MM-DD)")
    return text


def _file_part(value: str) -> str:
    """A party or link name as it may appear in a download's file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._") or "link"


_REFUSALS = {
    400: N_("The request was not valid."),
    403: N_("Refused: your role does not allow this, or the form had expired."),
    404: N_("Not found."),
    405: N_("That is not allowed here."),
    422: N_("The form was not filled in correctly."),
}

_CALL_STATES = ("accepted", "ended", "declined", "missed", "cancelled", "ringing")


def _mark_displayed(desk: Desk, message_ids: list[str], who: Person) -> None:
    for message_id in message_ids:
        try:
            desk.displayed(message_id, who)
        except NodeError:
            continue


def _message_text(text: str) -> str:
    clean = text.replace("\r\n", "\n").strip()
    if not clean:
        raise Invalid("Write a message first.")
    if len(clean) > MAX_FORM_TEXT:
        raise Invalid(
            "The message is too long ({length} characters; the limit is {limit}).",
            length=len(clean),
            limit=MAX_FORM_TEXT,
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in clean):
        raise Invalid("The message contains control characters.")
    return clean


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _local_path(back: str) -> str:
    """Only paths on this console: never an open redirect."""
    return back if back.startswith("/") and not back.startswith("//") else "/"


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def _set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/",
    )


def _last_event_id(node: Node) -> int:
    from ...node.events import last_event_id

    with node.reading() as session:
        return last_event_id(session)


# New rows only: a ladder change is fetched by the page if it shows that row (a
# cumulative receipt can move thousands of messages the page does not show).
_INLINE_TYPES = frozenset({"message.received", "message.queued"})


async def _stream(
    node: Node,
    request: Request,
    after: int,
    link_id: str,
    inline: Callable[[str], str | None] | None,
    still_valid: Callable[[], bool],
) -> AsyncIterator[str]:
    """Events as small JSON notes; the page fetches the fragments they name, except
    the rows of messages on the link it shows, which come with the note."""
    yield "retry: 1000\n\n"
    feed = node.event_feed(after)
    checked = time.monotonic()
    while not await request.is_disconnected():
        if time.monotonic() - checked >= SESSION_CHECK_SECONDS:
            checked = time.monotonic()
            if not await to_thread.run_sync(still_valid):
                yield 'event: logout\ndata: {"type": "session.ended"}\n\n'
                return
        rows = await feed.next(STREAM_POLL_SECONDS)
        for row in rows:
            note = {"type": row.type, "link": row.link_id, **_note(row.data)}
            if inline and row.link_id == link_id and row.type in _INLINE_TYPES and "id" in note:
                html = await to_thread.run_sync(inline, str(note["id"]))
                if html is not None:
                    note["html"] = html
            yield f"id: {row.id}\ndata: {json.dumps(note)}\n\n"
        if not rows and feed.quiet_for(KEEPALIVE_SECONDS):
            yield ": keep-alive\n\n"


def _note(data: dict[str, Any]) -> dict[str, Any]:
    """Only identifiers go to the page: content comes with the fragment, rendered
    and escaped by the server in the operator's language."""
    keys = ("id", "call", "draft", "state", "rung", "message")
    return {k: data[k] for k in keys if k in data and isinstance(data[k], (str, int))}


__all__ = ["create_console"]
