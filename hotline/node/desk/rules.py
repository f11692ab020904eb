"""The rules of a link at the desk: its signed policy, the emergency channel with the
two-person rule, escalation of silence, scheduled link tests, alerts and usage
statistics. :class:`RulesDesk` is mixed into :class:`hotline.node.desk.desk.Desk`, the
service the console calls; the CLI and the local API call the same methods.

Methods that act take the acting :class:`~hotline.node.people.Person` (console) or an
actor string such as ``"cli:alice"`` (command line, local API token: the node's
custodian). Every refusal is a :class:`~hotline.node.refusals.Refused` with a stable
code, changes nothing, and is audited and logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ...accounts.roles import Permission
from ...clock import now_ms as clock_ms
from ...errors import Reason
from ...protocol.policy import Criterion, Policy, amend, default_policy
from ...storage.models import Link
from ...storage.policy_models import (
    Alert,
    EmergencyActivation,
    EscalationPolicy,
    EscalationStep,
    LinkTest,
)
from ..delivery.outgoing import Outgoing, append_message
from ..events import record_event
from ..linking import find_link
from ..people import Person, actor_of, require
from ..record_store import lock_link
from ..refusals import Refused, audit, audited
from ..rules import emergency, escalation, escalation_policy, escalation_steps, link_tests, stats
from ..rules import policy as link_policy
from ..rules.alerts import alert_view
from ..rules.escalation import OverdueItem
from ..rules.policy import PolicyState

if TYPE_CHECKING:
    from ..runtime import NodeRuntime


@dataclass(frozen=True)
class WatchRound:
    tests_sent: list[str]
    tests_missed: list[str]  # ours, not confirmed in time
    tests_lapsed: list[str]  # the other side's, not confirmed in time
    steps: list[escalation_steps.StepTaken]


class RulesDesk:
    node: NodeRuntime

    def _link(self, name_or_id: str) -> Link:
        # find_link refuses with unknown_link itself (wrapping it again doubled the
        # code in the message: "... (unknown_link) (unknown_link)").
        return find_link(self.node, name_or_id)

    # Policy ------------------------------------------------------------------------

    def policy(self, link: str) -> PolicyState:
        return link_policy.policy_state(self.node, self._link(link))

    def criteria(self, link: str) -> list[Criterion]:
        """The agreed emergency criteria (empty while no policy is in force)."""
        policy = self.policy(link).in_force
        return [] if policy is None else list(policy.criteria)

    def propose_policy(
        self, link: str, changes: dict[str, Any], who: Person | str
    ) -> link_policy.PolicyVersion:
        """Propose the next version: the version in force (or the defaults) with
        ``changes`` (fields of the policy map, as in a JSON file) applied."""
        found = self._link(link)
        with audited(self.node, actor_of(who), "policy.propose", found.name):
            require(who, Permission.MANAGE_LINKS)
            with self.node.transaction() as session:
                locked = lock_link(session, found.id)
                current = link_policy.in_force(session, locked.id)
                if current is None:  # version 1: the defaults are the base
                    base = default_policy(locked.id, locked.purpose, version=1)
                    proposed = amend(base, changes, in_force=0)
                else:
                    proposed = amend(current, changes)
                stamp = clock_ms()
                row = link_policy.propose(
                    session, self.node.identity, locked, proposed, now_ms=stamp
                )
                audit(
                    session,
                    actor=actor_of(who),
                    action="policy.propose",
                    target=locked.name,
                    outcome="ok",
                    detail={"version": proposed.version},
                    now=stamp,
                )
                return link_policy.version_of(row)

    def accept_policy(
        self, link: str, version: int, who: Person | str
    ) -> link_policy.PolicyVersion:
        """Countersign the other side's proposal of ``version``: it comes into force."""
        found = self._link(link)
        with audited(self.node, actor_of(who), "policy.accept", found.name):
            require(who, Permission.MANAGE_LINKS)
            with self.node.transaction() as session:
                locked = lock_link(session, found.id)
                stamp = clock_ms()
                row = link_policy.accept(session, self.node.identity, locked, version, now_ms=stamp)
                audit(
                    session,
                    actor=actor_of(who),
                    action="policy.accept",
                    target=locked.name,
                    outcome="ok",
                    detail={"version": version},
                    now=stamp,
                )
                return link_policy.version_of(row)

    # Emergency channel ------------------------------------------------------------

    def activate_emergency(
        self,
        link: str,
        person: Person,
        *,
        criterion: str | None,
        justification: str | None,
        text: str,
        lang: str = "en",
    ) -> EmergencyActivation:
        """Activate the emergency channel: refused without an agreed criterion (code
        ``not_an_emergency``: send it as routine), with an unknown one
        (``unknown_criterion``) or without a justification. Leaves at once, or waits in
        ``awaiting_approval`` for a second operator when the policy asks for it."""
        found = self._link(link)
        with (
            audited(self.node, person.username, "emergency.request", found.name),
            self.node.transaction() as session,
        ):
            locked = lock_link(session, found.id)
            stamp = clock_ms()
            activation, policy = emergency.request(
                session,
                locked,
                person,
                criterion=criterion,
                justification=justification,
                text=text,
                lang=lang,
                now_ms=stamp,
            )
            if policy.two_person_rule:
                emergency.awaiting_approval(session, locked, activation, stamp)
                return activation
            self._send_activation(session, locked, activation, policy, None, stamp)
            return activation

    def decide_emergency(
        self, activation_id: int, person: Person, *, approve: bool, note: str = ""
    ) -> EmergencyActivation:
        """The second operator approves (it leaves at once) or rejects an activation.
        Refused for oneself's activation (``self_approval``) or without the
        ``approve_emergency`` permission."""
        with (
            audited(self.node, person.username, "emergency.decide", str(activation_id)),
            self.node.transaction() as session,
        ):
            activation, link = emergency.lock_activation(session, activation_id)
            emergency.check_decision(activation, person)
            stamp = clock_ms()
            activation.decided_by, activation.decided_label = person.username, person.label
            activation.decided_ms, activation.decision_note = stamp, note[:500] or None
            audit(
                session,
                actor=person.username,
                action="emergency.approve" if approve else "emergency.reject",
                target=link.name,
                outcome="ok",
                detail={"activation": activation.id},
                now=stamp,
            )
            if not approve:
                activation.state = emergency.REJECTED
                emergency.event(session, activation, stamp)
                return activation
            policy = emergency.policy_for(session, activation)
            self._send_activation(session, link, activation, policy, person.label, stamp)
            return activation

    def _send_activation(
        self,
        session: Any,
        link: Any,
        activation: EmergencyActivation,
        policy: Policy,
        approved_by: str | None,
        stamp: int,
    ) -> None:
        body = emergency.emergency_body(activation, policy, approved_by)
        message = append_message(session, self.node.identity, link, Outgoing(link.id, body), stamp)
        activation.state, activation.message_id = emergency.SENT, message.id
        emergency.event(session, activation, stamp)

    def emergency_activations(
        self, link: str | None = None, *, state: str | None = None, limit: int = 100
    ) -> list[EmergencyActivation]:
        query = select(EmergencyActivation).order_by(EmergencyActivation.created_ms.desc())
        if link is not None:
            query = query.where(EmergencyActivation.link_id == self._link(link).id)
        if state is not None:
            query = query.where(EmergencyActivation.state == state)
        with self.node.reading() as session:
            return list(session.scalars(query.limit(limit)))

    # Link tests ------------------------------------------------------------------------

    def confirm_link_test(self, test_id: str, who: Person | str) -> LinkTest:
        """A person on this side confirms the other side's link test."""
        with audited(self.node, actor_of(who), "link_test.confirm", test_id):
            require(who, Permission.ACKNOWLEDGE)
            with self.node.transaction() as session:
                stamp = clock_ms()
                label = who if isinstance(who, str) else who.label
                test = link_tests.confirm(
                    session, self.node.identity, test_id, label, actor_of(who), stamp
                )
                audit(
                    session,
                    actor=actor_of(who),
                    action="link_test.confirm",
                    target=test.link_id,
                    outcome="ok",
                    detail={"test": test.id},
                    now=stamp,
                )
                return test

    def link_tests(
        self, link: str | None = None, *, state: str | None = None, limit: int = 100
    ) -> list[LinkTest]:
        query = select(LinkTest).order_by(LinkTest.sent_ms.desc())
        if link is not None:
            query = query.where(LinkTest.link_id == self._link(link).id)
        if state is not None:
            query = query.where(LinkTest.state == state)
        with self.node.reading() as session:
            return list(session.scalars(query.limit(limit)))

    # Escalation, overdue items and alerts -----------------------------------------

    def escalation(self, link: str) -> dict[str, Any] | None:
        found = self._link(link)
        with self.node.reading() as session:
            row = session.get(EscalationPolicy, found.id)
            return None if row is None else dict(row.document)

    def set_escalation(self, link: str, document: Any, who: Person | str) -> dict[str, Any]:
        """Replace the link's escalation policy (administrators). Refused with
        ``unknown_link``, ``unknown_role``, ``unknown_user``, ``unknown_action``,
        ``unknown_rung`` ... and nothing changes."""
        actor = actor_of(who)
        with audited(self.node, actor, "escalation.set", link):
            require(who, Permission.MANAGE_LINKS)
            found = self._link(link)
            with self.node.transaction() as session:
                locked = lock_link(session, found.id)
                return escalation_policy.set_policy(
                    session, locked, document, actor=actor, now_ms=clock_ms()
                )

    def escalation_steps(
        self, link: str | None = None, *, message_id: str | None = None, limit: int = 200
    ) -> list[EscalationStep]:
        query = select(EscalationStep).order_by(EscalationStep.id.desc())
        if link is not None:
            query = query.where(EscalationStep.link_id == self._link(link).id)
        if message_id is not None:
            query = query.where(EscalationStep.message_id == message_id)
        with self.node.reading() as session:
            return list(session.scalars(query.limit(limit)))

    def overdue(self, now_ms: int | None = None) -> list[OverdueItem]:
        """Everything of ours waiting past its deadline, most urgent first."""
        return overdue_items(self.node, now_ms)

    def alerts(self, person: Person | None = None) -> list[Alert]:
        """Open alerts; for ``person``: those for their role or name, or for everyone."""
        with self.node.reading() as session:
            if person is None:
                return escalation.open_alerts(session)
            return escalation.open_alerts(session, role=person.role, username=person.username)

    def clear_alert(self, alert_id: int, who: Person | str) -> Alert:
        """Clear an open alert. One rule: whoever an alert is shown to may clear it. An
        operator (``Person``) sees the alerts for everyone, for their role and for them
        by name (:meth:`alerts`); the node's own administrator (an actor string: the
        local API's token, the CLI) sees them all."""
        with (
            audited(self.node, actor_of(who), "alert.clear", str(alert_id)),
            self.node.transaction() as session,
        ):
            alert = session.get(Alert, alert_id, with_for_update=True)
            if alert is None:
                raise Refused(Reason.UNKNOWN_ALERT, f"no alert {alert_id}")
            if not isinstance(who, str) and not _shown_to(alert, who):
                raise Refused(
                    Reason.NOT_ADDRESSED,
                    f"alert {alert_id} is not shown to {who.username}; not cleared",
                )
            if alert.cleared_ms is not None:
                raise Refused(Reason.ALREADY_CLEARED, f"alert {alert_id} was already cleared")
            stamp = clock_ms()
            alert.cleared_ms, alert.cleared_by = stamp, actor_of(who)
            record_event(
                session,
                "alert.cleared",
                alert_view(alert),
                link_id=alert.link_id,
                now_ms=stamp,
            )
            return alert

    # Statistics ------------------------------------------------------------------------

    def usage(
        self,
        link: str,
        *,
        bucket: str = "day",
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> stats.Usage:
        found = self._link(link)
        with self.node.reading() as session:
            return stats.usage(session, found, bucket=bucket, since_ms=since_ms, until_ms=until_ms)


def overdue_items(node: NodeRuntime, now_ms: int | None = None) -> list[escalation.OverdueItem]:
    """Each overdue item (outgoing message or link test) with how long it has waited."""
    with node.reading() as session:
        return escalation.overdue(session, clock_ms() if now_ms is None else now_ms)


def usage_stats(node: NodeRuntime, link: str, **kwargs: Any) -> stats.Usage:
    found = find_link(node, link)
    with node.reading() as session:
        return stats.usage(session, found, **kwargs)


def watch(node: NodeRuntime, now_ms: int | None = None) -> WatchRound:
    """One round of the watch (the server runs it every second): send due link tests,
    mark ours missed and the other side's lapsed when their time is up, take due
    escalation steps. ``now_ms`` is for tests."""
    stamp = clock_ms() if now_ms is None else now_ms
    with node.reading() as session:
        due = link_tests.due_links(session, stamp)
        # Take a link's lock (a write transaction) only when a step is due on it.
        links = [
            link.id
            for link in session.scalars(
                select(Link).join(EscalationPolicy, EscalationPolicy.link_id == Link.id)
            )
            if escalation_steps.has_due(session, link, stamp)
        ]
        # Either direction: ours become missed, the other side's lapsed.
        expired = session.scalar(
            select(LinkTest.id)
            .where(LinkTest.state == link_tests.AWAITING, LinkTest.deadline_ms <= stamp)
            .limit(1)
        )
    sent: list[str] = []
    for link_id in due:
        with node.transaction() as session:
            test = link_tests.send_test(session, node.identity, link_id, stamp)
            if test is not None:
                sent.append(test.id)
    missed: list[str] = []
    lapsed: list[str] = []
    if expired is not None:
        with node.transaction() as session:
            missed = [t.id for t in link_tests.mark_missed(session, stamp)]
            lapsed = [t.id for t in link_tests.mark_lapsed(session, stamp)]
    steps: list[escalation_steps.StepTaken] = []
    for link_id in links:
        with node.transaction() as session:
            steps += escalation_steps.run(session, lock_link(session, link_id), stamp)
    return WatchRound(sent, missed, lapsed, steps)


def _shown_to(alert: Alert, person: Person) -> bool:
    """The alerts an operator sees (the same test as escalation.open_alerts)."""
    if alert.target_role is None and alert.target_user is None:
        return True
    return alert.target_role == person.role or alert.target_user == person.username
