"""Edits to a link's policy as an operator writes them: changes to the version in
force (or to the standard policy, for version 1), checked before anything is sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .policy import LinkTestRule, Policy, amend, default_policy

# The link test of the standard policy (what a partial rule is completed with).
STANDARD_LINK_TEST: LinkTestRule = Policy(link="", version=1, purpose="").link_test


def check_first_version(link_id: str, changes: Mapping[str, Any]) -> None:
    """Raise ProtocolError unless ``changes`` make the standard policy a valid version
    1 for link ``link_id`` (checked before a link is completed, not after)."""
    amend(default_policy(link_id, "checked"), changes, in_force=0)


def with_link_test(
    changes: Mapping[str, Any],
    in_force: Policy | None,
    *,
    interval_s: int | None = None,
    confirm_s: int | None = None,
) -> dict[str, Any]:
    """``changes`` with the link test's interval and time to confirm set: the rule
    ``changes`` gives (missing fields from the standard rule), else the rule in force,
    else the standard rule, with the given values in place."""
    result = dict(changes)
    if interval_s is None and confirm_s is None:
        return result
    given = result.get("link_test")
    rule: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
    if not rule and in_force is not None:
        rule = dict(in_force.link_test.to_map())
    for key, value in STANDARD_LINK_TEST.to_map().items():
        rule.setdefault(key, value)
    if interval_s is not None:
        rule["interval_s"] = interval_s
    if confirm_s is not None:
        rule["confirm_s"] = confirm_s
    result["link_test"] = rule
    return result
