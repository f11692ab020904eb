"""Local API for the rules of a link: policy, emergency channel, escalation, overdue
items, alerts, link tests and usage statistics (mounted by :mod:`.local_api`).

The bearer token is the node's custodian (actor ``"api"``). Actions that a named
operator must take (emergency activation and its approval, confirming a link test)
name that operator's console account in ``by``; the account's role is checked as at
the console. Deciding an emergency activation (the second operator of the two-person
rule) also takes that operator's password, and TOTP code if they have one. Refusals
answer 400 (403 for ``forbidden`` and ``bad_credentials``) with ``{"code", "detail"}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field

from ..accounts.errors import AccountError
from ..accounts.service import AccountService
from ..errors import Reason
from ..node.desk.desk import Desk
from ..node.message_text import MAX_TEXT_CHARS
from ..node.people import Person
from ..node.refusals import Refused
from ..node.rules.alerts import alert_view
from ..node.rules.emergency import activation_view
from ..node.rules.link_tests import test_view
from ..node.service import Node
from .params import MAX_ID

ACTOR = "api"
# A row id or version in a path: what the database's integers hold (else 422, not 500).
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


class ActivationRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    lang: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    criterion: str | None = Field(default=None, max_length=64)
    justification: str | None = Field(default=None, max_length=2000)
    by: str = Field(min_length=1, max_length=64)


class DecisionRequest(BaseModel):
    """The second operator's decision, with their own credential: the token shows that
    the caller may use the API, not who is deciding (the two-person rule needs two
    people, not two names)."""

    approve: bool
    note: str = Field(default="", max_length=500)
    by: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=16)


class ByRequest(BaseModel):
    by: str = Field(min_length=1, max_length=64)


class _LineHandlers:
    """The endpoints for a link's rules, over one node's desk and console accounts."""

    def __init__(self, node: Node) -> None:
        self.desk = Desk(node)
        self.accounts = AccountService(node.sessions, readers=node.readers, party=node.party)

    def person(self, username: str) -> Person:
        try:
            user = self.accounts.get_user(username)
        except AccountError as exc:
            raise Refused(exc.reason, exc.detail) from None
        if user.disabled:
            raise Refused(Reason.FORBIDDEN, f"the account {username} is disabled")
        return Person(user.username, user.display_name, user.role.value)

    async def run(self, call: Any) -> Any:
        return await to_thread.run_sync(call)

    async def policy(self, link: str) -> dict[str, Any]:
        state = await self.run(lambda: self.desk.policy(link))
        return dict(state.view())

    async def propose(
        self, link: str, changes: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        version = await self.run(lambda: self.desk.propose_policy(link, changes, ACTOR))
        return dict(version.view())

    async def accept(self, link: str, version: RowId) -> dict[str, Any]:
        accepted = await self.run(lambda: self.desk.accept_policy(link, version, ACTOR))
        return dict(accepted.view())

    async def activate(self, link: str, request: ActivationRequest) -> dict[str, Any]:
        def call() -> Any:
            return self.desk.activate_emergency(
                link,
                self.person(request.by),
                criterion=request.criterion,
                justification=request.justification,
                text=request.text,
                lang=request.lang,
            )

        return activation_view(await self.run(call))

    def signed_in(self, username: str, password: str, totp: str | None) -> Person:
        """The operator, once their password (and TOTP code, if they have one) checks
        out; wrong ones count towards the account's lockout, as at the console."""
        result = self.accounts.authenticate(
            username, password, totp, address="local-api", action="emergency.credential"
        )
        if result.user is None:
            raise Refused(
                Reason.BAD_CREDENTIALS,
                f"the password or code given for {username} is not theirs (or the account "
                "is locked or disabled); nothing was decided",
            )
        user = result.user
        return Person(user.username, user.display_name, user.role.value)

    async def decide(self, activation_id: RowId, request: DecisionRequest) -> dict[str, Any]:
        def call() -> Any:
            approver = self.signed_in(request.by, request.password, request.totp)
            return self.desk.decide_emergency(
                activation_id, approver, approve=request.approve, note=request.note
            )

        return activation_view(await self.run(call))

    async def activations(
        self, link: str | None = None, state: str | None = None
    ) -> list[dict[str, Any]]:
        rows = await self.run(lambda: self.desk.emergency_activations(link, state=state))
        return [activation_view(a) for a in rows]

    async def escalation(self, link: str) -> dict[str, Any]:
        return {"link": link, "policy": await self.run(lambda: self.desk.escalation(link))}

    async def set_escalation(self, link: str, document: Annotated[Any, Body()]) -> dict[str, Any]:
        stored = await self.run(lambda: self.desk.set_escalation(link, document, ACTOR))
        return {"link": link, "policy": stored}

    async def steps(self, link: str, message: str | None = None) -> list[dict[str, Any]]:
        rows = await self.run(lambda: self.desk.escalation_steps(link, message_id=message))
        return [
            {
                "id": s.id,
                "message_id": s.message_id,
                "rung": s.rung,
                "step": s.step,
                "action": s.action,
                "target": s.target,
                "outcome": s.outcome,
                "detail": s.detail,
                "waited_ms": s.waited_ms,
                "created_ms": s.created_ms,
            }
            for s in rows
        ]

    async def overdue(self) -> list[dict[str, Any]]:
        return [item.view() for item in await self.run(self.desk.overdue)]

    async def alerts(self) -> list[dict[str, Any]]:
        return [alert_view(a) for a in await self.run(self.desk.alerts)]

    async def clear(self, alert_id: RowId) -> dict[str, Any]:
        return alert_view(await self.run(lambda: self.desk.clear_alert(alert_id, ACTOR)))

    async def tests(self, link: str) -> list[dict[str, Any]]:
        return [test_view(t) for t in await self.run(lambda: self.desk.link_tests(link))]

    async def confirm(self, test_id: str, request: ByRequest) -> dict[str, Any]:
        return test_view(
            await self.run(lambda: self.desk.confirm_link_test(test_id, self.person(request.by)))
        )

    async def usage(
        self,
        link: str,
        bucket: str = "day",
        since_ms: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
        until_ms: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    ) -> dict[str, Any]:
        result = await self.run(
            lambda: self.desk.usage(link, bucket=bucket, since_ms=since_ms, until_ms=until_ms)
        )
        return dict(result.view())


def rules_router(node: Node, dependencies: list[Any]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", dependencies=dependencies)
    api = _LineHandlers(node)
    router.add_api_route("/links/{link}/policy", api.policy, methods=["GET"])
    router.add_api_route(
        "/links/{link}/policy/proposals", api.propose, methods=["POST"], status_code=201
    )
    router.add_api_route("/links/{link}/policy/{version}/accept", api.accept, methods=["POST"])
    router.add_api_route("/links/{link}/emergency", api.activate, methods=["POST"], status_code=201)
    router.add_api_route("/emergency/{activation_id}/decision", api.decide, methods=["POST"])
    router.add_api_route("/emergency", api.activations, methods=["GET"])
    router.add_api_route("/links/{link}/escalation", api.escalation, methods=["GET"])
    router.add_api_route("/links/{link}/escalation", api.set_escalation, methods=["PUT"])
    router.add_api_route("/links/{link}/escalation/steps", api.steps, methods=["GET"])
    router.add_api_route("/overdue", api.overdue, methods=["GET"])
    router.add_api_route("/alerts", api.alerts, methods=["GET"])
    router.add_api_route("/alerts/{alert_id}/clear", api.clear, methods=["POST"])
    router.add_api_route("/links/{link}/link-tests", api.tests, methods=["GET"])
    router.add_api_route("/link-tests/{test_id}/confirm", api.confirm, methods=["POST"])
    router.add_api_route("/links/{link}/stats", api.usage, methods=["GET"])
    return router
