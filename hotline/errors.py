"""Why Hotline refused a request: one vocabulary of stable reasons, one exception.

::

    Exception
    ├── hotline.errors.Refused          the node and the accounts: Refused(Reason, detail)
    ├── hotline.protocol.ProtocolError  the pure protocol core: ProtocolError(Code, detail)
    └── hotline.language.LanguageError  the pure language library (phrasebook, glossary)

A refusal changes nothing: whatever was asked for did not happen, in full. Its
``reason`` is stable (scripts switch on it; the edges translate it), its ``detail``
is English prose for logs and the command line, and may be reworded at any time.
The two pure libraries keep their own families (their codes are published with
them), and every one of their codes is also a :class:`Reason`, so the node turns
them into :class:`Refused` at its boundary without losing anything.

The edges map reasons, and only reasons, to what a person or a program sees: the
local API to an HTTP status (``hotline.web.statuses``), the console to a sentence
of its catalogue in the operator's language (``hotline.web.console.refusals``), the
command line to the detail and the code. A test keeps every reason in those tables
and in the documentation's error table (docs/errors.md).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # Input -----------------------------------------------------------------------
    MALFORMED = "malformed"  # not the shape asked for (a bad tag, a bad value)
    EMPTY = "empty"  # text is required
    TOO_LONG = "too_long"
    NOT_IN_FUTURE = "not_in_future"  # a promised time that has already passed
    FORBIDDEN = "forbidden"  # the role does not allow it
    BAD_CREDENTIALS = "bad_credentials"  # a password or code that is not theirs
    # Things that do not exist ------------------------------------------------------
    UNKNOWN_LINK = "unknown_link"
    UNKNOWN_MESSAGE = "unknown_message"
    UNKNOWN_ENTRY = "unknown_entry"  # a reference to an entry not on the link
    UNKNOWN_DRAFT = "unknown_draft"
    UNKNOWN_CALL = "unknown_call"
    UNKNOWN_ACTIVATION = "unknown_activation"
    UNKNOWN_TEST = "unknown_test"
    UNKNOWN_ALERT = "unknown_alert"
    UNKNOWN_USER = "unknown_user"
    UNKNOWN_ROLE = "unknown_role"
    UNKNOWN_ACTION = "unknown_action"  # an escalation action
    UNKNOWN_RUNG = "unknown_rung"
    UNKNOWN_BUCKET = "unknown_bucket"
    UNKNOWN_CHANNEL = "unknown_channel"
    UNKNOWN_CRITERION = "unknown_criterion"
    UNKNOWN_DECLINE_REASON = "unknown_decline_reason"
    UNKNOWN_FIELD = "unknown_field"
    # A state that does not allow it ----------------------------------------------
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    ALREADY_CLEARED = "already_cleared"
    ALREADY_CONFIRMED = "already_confirmed"
    WRONG_STATE = "wrong_state"  # a draft or call no longer waiting for this step
    CALL_IN_PROGRESS = "call_in_progress"
    NOT_AUTHOR = "not_author"  # only a draft's author changes it
    NOT_ADDRESSED = "not_addressed"  # an alert shown to someone else
    TEST_LAPSED = "test_lapsed"
    NOT_AWAITING_APPROVAL = "not_awaiting_approval"
    SELF_APPROVAL = "self_approval"
    # The emergency channel ---------------------------------------------------------
    NO_POLICY = "no_policy"
    NOT_AN_EMERGENCY = "not_an_emergency"
    ACTIVATION_REQUIRED = "activation_required"
    JUSTIFICATION_REQUIRED = "justification_required"
    JUSTIFICATION_TOO_LONG = "justification_too_long"
    # Policies signed by both sides -------------------------------------------------
    ALREADY_PROPOSED = "already_proposed"
    CONFLICTING_PROPOSAL = "conflicting_proposal"
    NO_PROPOSAL = "no_proposal"
    OWN_PROPOSAL = "own_proposal"
    # The phrasebook agreed on a link ------------------------------------------------
    PHRASEBOOK_NOT_IN_FORCE = "phrasebook_not_in_force"
    # The node, its paths and relays ------------------------------------------------
    NO_NODE = "no_node"
    NODE_EXISTS = "node_exists"
    BAD_CONFIGURATION = "bad_configuration"
    BAD_URL = "bad_url"
    DUPLICATE_PATH = "duplicate_path"
    TOO_MANY_PATHS = "too_many_paths"
    BAD_CERTIFICATE = "bad_certificate"
    FINGERPRINT_MISMATCH = "fingerprint_mismatch"
    RELAY_PARTIES = "relay_parties"  # a relayed link has two parties, each once
    # Console accounts -------------------------------------------------------------
    INVALID_USERNAME = "invalid_username"
    INVALID_DISPLAY_NAME = "invalid_display_name"
    USERNAME_TAKEN = "username_taken"
    WEAK_PASSWORD = "weak_password"
    INVALID_LANGUAGE = "invalid_language"
    INVALID_TIMEZONE = "invalid_timezone"
    LAST_ADMINISTRATOR = "last_administrator"
    INVALID_FILTER = "invalid_filter"
    LOCKED = "locked"
    DISABLED = "disabled"
    TOTP_REQUIRED = "totp_required"
    TOTP_INVALID = "totp_invalid"
    TOTP_REUSED = "totp_reused"
    # The protocol's codes (hotline.protocol.errors.Code) -----------------------------
    NON_CANONICAL = "non_canonical"
    TOO_LARGE = "too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_KIND = "unknown_kind"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_SENDER = "unknown_sender"
    WRONG_LINK = "wrong_link"
    WRONG_RECIPIENT = "wrong_recipient"
    DECRYPT_FAILED = "decrypt_failed"
    DIGEST_MISMATCH = "digest_mismatch"
    REPLAY = "replay"
    CHAIN_BROKEN = "chain_broken"
    SEQUENCE_GAP = "sequence_gap"
    BAD_REFERENCE = "bad_reference"
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    WRONG_VERSION = "wrong_version"
    # The language library's codes (hotline.language.errors.Reason) -------------------
    WRONG_TYPE = "wrong_type"
    BAD_FORMAT = "bad_format"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_OPTION = "unknown_option"
    UNKNOWN_UNIT = "unknown_unit"
    NOT_A_MESSAGE = "not_a_message"
    MISSING_PARAMETER = "missing_parameter"
    UNEXPECTED_PARAMETER = "unexpected_parameter"
    UNKNOWN_LANGUAGE = "unknown_language"
    MISSING_LANGUAGE = "missing_language"
    PARAMETER_MISMATCH = "parameter_mismatch"
    UNKNOWN_TYPE = "unknown_type"
    DUPLICATE_ID = "duplicate_id"
    BAD_ENUM = "bad_enum"
    BAD_TEMPLATE = "bad_template"
    BAD_CONSTRAINT = "bad_constraint"
    UNKNOWN_CATEGORY = "unknown_category"


class Refused(Exception):
    """A request the node or its accounts refused; nothing changed.

    ``reason`` is stable; ``detail`` is English for logs and the command line."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{detail} ({reason})")
        self.reason = reason
        self.detail = detail

    # The names this error had before the vocabulary was one: the node's callers said
    # ``code``, the accounts' callers ``message``.
    @property
    def code(self) -> Reason:
        return self.reason

    @property
    def message(self) -> str:
        return self.detail


class NodeError(Exception):
    """An operator-facing error of the node's set-up (its data directory, its
    configuration): the message says what is wrong and what to do. It lives here,
    beside :class:`Refused`, so that the command line can catch it without loading
    the node."""
