"""What every console route needs, built once per node: :class:`Console`.

Routes receive it as ``c: Console = Depends(console)``. It holds the node, the desk,
the accounts, the gate and the templates, and does the three things every route does:
find the operator (:meth:`Console.operator`: session, CSRF, permission), run and audit
an action (:meth:`Console.act`), and render a page with the call and attention bars
(:meth:`Console.render`, :meth:`Console.bar`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from ...accounts.roles import Permission
from ...accounts.service import AccountService
from ...clock import now_ms
from ...errors import Refused
from ...node.desk.desk import Desk
from ...node.events import last_event_id
from ...node.home import NodeError
from ...node.reads.attention import attention
from ...node.reads.calls import live_calls
from ...node.reads.waiting import waiting
from ...node.service import Node
from .auth import SESSION_COOKIE, Gate, Operator, client_address, request_language
from .forms import ActionForm, Posted, wants_json
from .i18n import translate
from .refusals import Invalid, offers_routine, refusal_text
from .templates import environment, words


@dataclass(frozen=True)
class Console:
    """The console of one node. Stateless between requests: what a request changes
    lives in the node and the accounts' database."""

    node: Node
    desk: Desk
    accounts: AccountService
    gate: Gate
    env: Environment

    @classmethod
    def build(cls, node: Node) -> Console:
        accounts = AccountService(node.sessions, readers=node.readers, party=node.party)
        return cls(node, Desk(node), accounts, Gate(accounts), environment(node.party))

    async def operator(self, asking: Request | Posted, permission: Permission | None) -> Operator:
        """The signed-in operator, if they hold ``permission`` (``None``: any operator);
        a posted form must carry the session's CSRF token. Refusals are audited and
        raised (:class:`~.auth.LoginRequired`, or HTTP 403)."""
        if isinstance(asking, Posted):
            return await self.gate.operator(asking.request, permission, form_csrf=asking.csrf)
        return await self.gate.operator(asking, permission)

    async def act(
        self,
        form: Posted,
        operator: Operator,
        action: str,
        target: str,
        work: Callable[[], Any],
        *,
        back: str | None = None,
        routine_offer: dict[str, str] | None = None,
    ) -> Response:
        """Run a desk action, audit it, and answer: a redirect for forms (to ``back``,
        else the form's own), JSON for fetch. A refusal is audited with its English
        reason and shown in the operator's language.
        ``routine_offer`` (the text and language) lets a refused emergency activation
        be sent on the routine channel with one click."""
        request = form.request
        after = back
        if after is None:
            after = form.back if isinstance(form, ActionForm) else "/"
        try:
            await to_thread.run_sync(work)
        except (Refused, NodeError, Invalid) as exc:
            await self.audit(request, operator, action, target, "refused", {"reason": str(exc)})
            message, values = refusal_text(exc)
            shown = translate(operator.user.language, message, values)
            if wants_json(request):
                return Response(
                    json.dumps({"error": shown}), status_code=400, media_type="application/json"
                )
            offer = routine_offer if offers_routine(exc) else None
            return self.render(
                request,
                "error.html",
                operator,
                status=400,
                message=shown,
                back=after,
                routine_offer=offer,
                **await self.page_bars(operator),
            )
        await self.audit(request, operator, action, target, "ok", None)
        if wants_json(request):
            return Response('{"ok": true}', media_type="application/json")
        return RedirectResponse(after, status_code=303)

    async def audit(
        self,
        request: Request,
        operator: Operator,
        action: str,
        target: str,
        outcome: str,
        detail: dict[str, Any] | None,
    ) -> None:
        address = client_address(request)
        await to_thread.run_sync(
            lambda: self.accounts.audit(
                operator.user.username, action, target, outcome, detail, address
            )
        )

    def render(
        self,
        request: Request,
        template: str,
        operator: Operator | None,
        *,
        status: int = 200,
        language: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        html = self.render_text(request, template, operator, language=language, **context)
        return HTMLResponse(html, status_code=status)

    def render_text(
        self,
        request: Request,
        template: str,
        operator: Operator | None,
        *,
        language: str | None = None,
        **context: Any,
    ) -> str:
        """``template`` in the operator's language and time zone (before login: the
        language the browser asked for, and UTC)."""
        lang = language or (operator.user.language if operator else request_language(request))
        zone = operator.user.timezone if operator else "UTC"
        return self.env.get_template(template).render(
            request=request,
            operator=operator,
            lang=lang,
            **words(lang, zone),
            party_name=functools.partial(self.node.config.party_name, lang=lang),
            now_ms=now_ms(),
            csrf=operator.session.csrf_token if operator else "",
            **context,
        )

    async def bar(self, operator: Operator) -> dict[str, Any]:
        """The call bar and the attention bar, shown on every page."""
        who = operator.person
        may_approve = operator.can(Permission.APPROVE_EMERGENCY)

        def read() -> dict[str, Any]:
            stamp = now_ms()
            bar = attention(self.node, who, can_approve=may_approve, now=stamp)
            return {
                "live_calls": live_calls(self.node, stamp),
                "attention": bar,
                "waiting": waiting(
                    self.node,
                    who.username,
                    may_approve_replies=operator.can(Permission.APPROVE_REPLY),
                    emergencies=len(bar.emergencies),
                    activations=len(bar.approvals),
                    now=now_ms(),
                ),
            }

        return await to_thread.run_sync(read)

    async def signed_in(self, request: Request) -> Operator | None:
        """The operator whose session the request carries, if any: for pages shown
        to whoever asks (an error page keeps a signed-in operator's bars)."""
        session = await to_thread.run_sync(
            self.accounts.lookup_session, request.cookies.get(SESSION_COOKIE)
        )
        return Operator(session) if session is not None else None

    async def page_bars(self, operator: Operator | None) -> dict[str, Any]:
        """What every full page needs to stay live: the bars and the event cursor."""
        if operator is None:
            return {}
        return {**await self.bar(operator), "events_after": await self.events_after()}

    async def events_after(self) -> int:
        """The newest event now: a page rendered now streams the events after it."""

        def read() -> int:
            with self.node.reading() as session:
                return last_event_id(session)

        return await to_thread.run_sync(read)


def console(request: Request) -> Console:
    """The dependency that hands routes the app's console."""
    found: Console = request.app.state.console
    return found


__all__ = ["Console", "console"]
