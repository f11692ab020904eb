"""What was done and what was said: the audit log, and a link's record as a file."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from ....accounts.audit import OUTCOMES, AuditFilterError, audit_filter, parse_before
from ....accounts.results import AuditEntry
from ....accounts.roles import Permission
from ....node.home import NodeError
from ..context import Console, console
from ..i18n import translate
from ..refusals import refusal_text

router = APIRouter()

AUDIT_PAGE_SIZE = 100
MAX_FILTER_ECHO = 200  # the most of a filter the audit page shows back in its form


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    user: str = "",
    action: str = "",
    outcome: str = "",
    since: str = "",
    until: str = "",
    before: str = "",
    c: Console = Depends(console),
) -> Response:
    """The audit log, newest first, a page at a time. Reading it is not itself
    audited (a refused attempt is, by the gate)."""
    operator = await c.operator(request, Permission.VIEW_AUDIT)
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
            lambda: c.accounts.audit_entries(AUDIT_PAGE_SIZE + 1, cursor, filters)
        )
    except AuditFilterError as exc:
        error = translate(operator.user.language, *refusal_text(exc))
    if len(entries) > AUDIT_PAGE_SIZE:
        entries = entries[:AUDIT_PAGE_SIZE]
        kept = {k: v for k, v in form.items() if v}
        older = "/audit?" + urlencode({**kept, "before": entries[-1].id})
    rows = [(e, json.dumps(e.detail, ensure_ascii=False, sort_keys=True)) for e in entries]
    return c.render(
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
        **await c.bar(operator),
    )


@router.get("/links/{link_name}/export")
async def export_record(
    request: Request, link_name: str, c: Console = Depends(console)
) -> Response:
    """The link's record as a bundle file, the same as ``hotline export`` writes:
    checked offline with ``hotline verify FILE``. Every download is audited."""
    operator = await c.operator(request, Permission.EXPORT_RECORD)
    try:
        bundle = await to_thread.run_sync(lambda: c.node.export(link_name))
    except NodeError as exc:
        detail = {"reason": str(exc)}
        await c.audit(request, operator, "record.export", link_name[:256], "refused", detail)
        raise HTTPException(404, "no such link") from None
    body = await to_thread.run_sync(bundle.to_json)
    stamp = datetime.fromtimestamp(bundle.exported_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"hotline-{_file_part(c.node.party)}-{_file_part(bundle.link_name)}-{stamp}.json"
    done = {"entries": len(bundle.entries), "link_id": bundle.link_id, "file": name}
    await c.audit(request, operator, "record.export", bundle.link_name, "ok", done)
    return Response(
        body,
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )


def _day(value: str, field: str) -> str:
    """The audit page's range is in whole days (the operator's): a time is refused."""
    text = value.strip()
    if text and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise AuditFilterError(field, f"{field} must be a date (YYYY-MM-DD)")
    return text


def _file_part(value: str) -> str:
    """A party or link name as it may appear in a download's file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._") or "link"
