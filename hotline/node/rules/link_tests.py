"""Scheduled link tests, like the hourly tests of the Moscow–Washington line.

At the interval of the policy in force, each node sends a ``link.test`` entry that a
person on the other side must confirm (``link.test.confirm``, referring to the test).
A test not confirmed within the policy's ``confirm_s`` is *missed* and raises an
alert: "line up, nobody at the desk" when the peer holds the test, or "not delivered"
when it does not. On the receiving side, the other side's test not confirmed within
the window it carries (``confirm_within_s``, counted from when it was sent, or from
when it arrived if that is earlier on our clock) *lapses*: it is no longer offered for
confirmation, and confirming it is refused (``test_lapsed``), since its sender has
counted it as missed. Machine heartbeats are not tests and never enter the record.
Test traffic is kept apart from real traffic in the statistics.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import Reason
from ...protocol.kinds import Kind
from ...storage.models import Entry, Link
from ...storage.policy_models import LinkTest
from ..events import record_event
from ..record_store import Reference, append_own, find_entry, lock_link
from ..refusals import Refused
from .alerts import clear_alerts_for, raise_alert
from .policy import in_force_row

AWAITING, CONFIRMED, MISSED, LAPSED = "awaiting", "confirmed", "missed", "lapsed"
TEST_TEXT = {
    "en": "Scheduled link test. Please confirm that a person is at the desk.",
    "zh-Hans": "定期线路测试。请确认值班人员在岗。",
}
TEST_KINDS = frozenset({Kind.LINK_TEST, Kind.LINK_TEST_CONFIRM})


def due_links(session: Session, now_ms: int) -> list[str]:
    """Links whose policy in force asks for a test that is now due."""
    return [link.id for link in session.scalars(select(Link)) if _is_due(session, link, now_ms)]


def _is_due(session: Session, link: Link, now_ms: int) -> bool:
    row = in_force_row(session, link.id)
    if row is None:
        return False
    interval_s = int(row.document["link_test"]["interval_s"])
    if interval_s == 0:
        return False
    last = session.scalar(
        select(LinkTest.sent_ms)
        .where(LinkTest.link_id == link.id, LinkTest.direction == "out")
        .order_by(LinkTest.sent_ms.desc())
        .limit(1)
    )
    start = last if last is not None else (row.in_force_ms or now_ms)
    return now_ms >= start + interval_s * 1000


def send_test(session: Session, me: Any, link_id: str, now_ms: int) -> LinkTest | None:
    """Send the link's due test (rechecked under the link lock)."""
    link = lock_link(session, link_id)
    if not _is_due(session, link, now_ms):
        return None
    row = in_force_row(session, link.id)
    assert row is not None
    confirm_s = int(row.document["link_test"]["confirm_s"])
    body = {"test": "scheduled", "confirm_within_s": confirm_s, "text": dict(TEST_TEXT)}
    entry, _ = append_own(session, link, me, Kind.LINK_TEST, body, now_ms=now_ms)
    test = LinkTest(
        id=entry.id,
        link_id=link.id,
        direction="out",
        seq=entry.seq,
        state=AWAITING,
        sent_ms=now_ms,
        deadline_ms=now_ms + confirm_s * 1000,
    )
    session.add(test)
    _event(session, "link_test.sent", test, now_ms)
    return test


def confirm(
    session: Session, me: Any, test_id: str, label: str, username: str, now_ms: int
) -> LinkTest:
    test = session.get(LinkTest, test_id)
    if test is None or test.direction != "in":
        raise Refused(Reason.UNKNOWN_TEST, f"no link test {test_id} from the other side")
    link = lock_link(session, test.link_id)
    # Locked as the watch locks the tests it marks lapsed: one of the two acts first.
    session.refresh(test, with_for_update=True)
    if test.state == LAPSED or (test.state == AWAITING and now_ms >= test.deadline_ms):
        raise Refused(
            Reason.TEST_LAPSED,
            f"link test {test_id} can no longer be confirmed: its window closed "
            f"{max(0, now_ms - test.deadline_ms) // 1000} s ago, and the other side has "
            "counted it as missed",
        )
    if test.state != AWAITING:
        raise Refused(Reason.ALREADY_CONFIRMED, f"link test {test_id} is {test.state}")
    entry = find_entry(session, link.id, test.id)
    assert entry is not None
    confirmation, _ = append_own(
        session,
        link,
        me,
        Kind.LINK_TEST_CONFIRM,
        {"by": label},
        now_ms=now_ms,
        ref=Reference(entry.id, entry.hash),
    )
    test.state, test.confirmed_ms, test.confirmed_by = CONFIRMED, now_ms, label
    test.confirm_entry = confirmation.id
    clear_alerts_for(session, test.id, username, now_ms)
    _event(session, "link_test.confirmed", test, now_ms)
    return test


def apply_peer_test_entry(
    session: Session, entry: Entry, kind: Kind, body: dict[str, Any], *, now_ms: int
) -> None:
    if kind is Kind.LINK_TEST:
        confirm_s = body.get("confirm_within_s")
        if not isinstance(confirm_s, int) or isinstance(confirm_s, bool) or confirm_s <= 0:
            confirm_s = 600
        # The sender counts it missed at its sending time plus the window; a test that
        # took long to arrive has that much less time (none, when it arrives too late).
        # Our clock is trusted over a sending time in the future.
        test = LinkTest(
            id=entry.id,
            link_id=entry.link_id,
            direction="in",
            seq=entry.seq,
            state=AWAITING,
            sent_ms=entry.time_ms,
            deadline_ms=min(entry.time_ms, now_ms) + min(confirm_s, 86_400) * 1000,
        )
        session.add(test)
        _event(session, "link_test.received", test, now_ms)
        return
    if kind is Kind.LINK_TEST_CONFIRM and entry.ref is not None:
        ours = session.get(LinkTest, entry.ref)
        if ours is None or ours.direction != "out" or ours.state == CONFIRMED:
            return
        test = ours
        by = body.get("by")
        test.state, test.confirmed_ms = CONFIRMED, now_ms
        test.confirmed_by = by[:128] if isinstance(by, str) else None
        test.confirm_entry = entry.id
        clear_alerts_for(session, test.id, "system", now_ms)
        _event(session, "link_test.confirmed", test, now_ms)


def mark_missed(session: Session, now_ms: int) -> list[LinkTest]:
    """Our tests past their deadline without a confirmation: missed, with an alert.
    The rows are locked, so two processes serving the node never both mark one."""
    missed = []
    for test in _past_deadline(session, "out", now_ms):
        link = session.get(Link, test.link_id)
        assert link is not None
        held = link.peer_has_seq >= test.seq
        test.state = MISSED
        waited_s = (now_ms - test.sent_ms) // 1000
        if held:
            text = (
                f"Line up, nobody at the desk: {link.peer_party} holds the link test sent on "
                f"{link.name}, but nobody confirmed it within {waited_s} s"
            )
            text_zh = (
                f"线路畅通，但无人值守：{link.peer_party}已收到{link.name}线路上的测试，"
                f"但{waited_s}秒内无人确认"
            )
        else:
            text = (
                f"Link test on {link.name} not delivered to {link.peer_party} after "
                f"{waited_s} s: the line may be down"
            )
            text_zh = (
                f"{link.name}线路上的测试在{waited_s}秒后仍未送达{link.peer_party}：线路可能中断"
            )
        raise_alert(
            session,
            link_id=link.id,
            kind="link_test_missed",
            role="duty_officer",
            message_id=test.id,
            text=text,
            data={
                "test": test.id,
                "delivered": held,
                "waited_ms": now_ms - test.sent_ms,
                "texts": {"en": text, "zh-Hans": text_zh},
            },
            now_ms=now_ms,
        )
        _event(session, "link_test.missed", test, now_ms, delivered=held)
        missed.append(test)
    return missed


def mark_lapsed(session: Session, now_ms: int) -> list[LinkTest]:
    """The other side's tests past their deadline without our confirmation: lapsed, no
    longer offered for confirmation (their sender counts them missed and alerts its
    own desk). Locked as :func:`mark_missed` locks, so two processes never both mark one."""
    lapsed = []
    for test in _past_deadline(session, "in", now_ms):
        test.state = LAPSED
        # Any alert still open about it goes too (earlier versions raised one per test).
        clear_alerts_for(session, test.id, "system", now_ms)
        _event(session, "link_test.lapsed", test, now_ms)
        lapsed.append(test)
    return lapsed


def _past_deadline(session: Session, direction: str, now_ms: int) -> list[LinkTest]:
    """Tests in ``direction`` still awaiting a confirmation past their deadline, locked
    so that two processes serving the node never both mark one."""
    return list(
        session.scalars(
            select(LinkTest)
            .where(
                LinkTest.direction == direction,
                LinkTest.state == AWAITING,
                LinkTest.deadline_ms <= now_ms,
            )
            .with_for_update()
        )
    )


def test_view(test: LinkTest) -> dict[str, Any]:
    return {
        "id": test.id,
        "link_id": test.link_id,
        "direction": test.direction,
        "state": test.state,
        "sent_ms": test.sent_ms,
        "deadline_ms": test.deadline_ms,
        "confirmed_ms": test.confirmed_ms,
        "confirmed_by": test.confirmed_by,
    }


def _event(session: Session, type_: str, test: LinkTest, now_ms: int, **extra: Any) -> None:
    record_event(session, type_, {**test_view(test), **extra}, link_id=test.link_id, now_ms=now_ms)
