"""What the console tells an operator for each refusal reason: the console's one table.

Each sentence is a source string of the Babel catalogue (``N_``), shown in the
operator's language; the English detail stays in the audit log. No reason is
matched from prose: the node raises ``Refused(reason, detail)`` and this table
is looked up by the reason. The test suite keeps every reason here, with its
Chinese translation in the catalogue.
"""

from __future__ import annotations

from ...errors import Reason
from .i18n import N_

R = Reason

TEXT: dict[Reason, str] = {
    # Input
    R.MALFORMED: N_("The request was not valid."),
    R.EMPTY: N_("Write a message first."),
    R.TOO_LONG: N_("The text is too long."),
    R.NOT_IN_FUTURE: N_("The promised response time must be in the future."),
    R.FORBIDDEN: N_("Your role does not allow this."),
    R.BAD_CREDENTIALS: N_("Wrong name, password or code, or the account is locked."),
    # Things that do not exist
    R.UNKNOWN_LINK: N_("No such link."),
    R.UNKNOWN_MESSAGE: N_("No such incoming message."),
    R.UNKNOWN_ENTRY: N_("The message this refers to is not on the link."),
    R.UNKNOWN_DRAFT: N_("No such draft."),
    R.UNKNOWN_CALL: N_("No such call."),
    R.UNKNOWN_ACTIVATION: N_("No such emergency activation."),
    R.UNKNOWN_TEST: N_("No such link test."),
    R.UNKNOWN_ALERT: N_("No such alert."),
    R.UNKNOWN_USER: N_("No such user."),
    R.UNKNOWN_ROLE: N_("No such role."),
    R.UNKNOWN_ACTION: N_("That escalation action does not exist."),
    R.UNKNOWN_RUNG: N_("That step of the receipt ladder does not exist."),
    R.UNKNOWN_BUCKET: N_("Choose hours or days."),
    R.UNKNOWN_CHANNEL: N_("Choose the routine or the emergency channel."),
    R.UNKNOWN_CRITERION: N_(
        "That is not one of the emergency criteria agreed on this link. Choose one, or "
        "send it on the routine channel."
    ),
    R.UNKNOWN_DECLINE_REASON: N_("Choose a reason from the agreed list."),
    R.UNKNOWN_FIELD: N_("The request names a field that does not exist."),
    # A state that does not allow it
    R.ALREADY_ACKNOWLEDGED: N_("This message has already been acknowledged."),
    R.ALREADY_CLEARED: N_("That alert has already been cleared."),
    R.ALREADY_CONFIRMED: N_("That link test has already been confirmed."),
    R.WRONG_STATE: N_("That is no longer waiting for this step."),
    R.CALL_IN_PROGRESS: N_("A call on this link is already ringing or in progress."),
    R.NOT_AUTHOR: N_("Only the author can change, submit or discard a draft."),
    R.NOT_ADDRESSED: N_("That alert is not addressed to you: it was not cleared."),
    R.TEST_LAPSED: N_(
        "That link test can no longer be confirmed: its time to confirm has passed, and "
        "the other side has counted it as missed."
    ),
    R.NOT_AWAITING_APPROVAL: N_("That activation is no longer awaiting approval."),
    R.SELF_APPROVAL: N_("A second operator must approve: you cannot approve your own activation."),
    # The emergency channel
    R.NO_POLICY: N_(
        "No policy signed by both sides is in force on this link yet, so the emergency "
        "channel cannot be used. Send it on the routine channel."
    ),
    R.NOT_AN_EMERGENCY: N_(
        "This is not an emergency under the link's policy: name one of the agreed "
        "criteria, or send it on the routine channel."
    ),
    R.ACTIVATION_REQUIRED: N_(
        "Emergency messages leave through an activation, which checks the criterion and "
        "the two-person rule."
    ),
    R.JUSTIFICATION_REQUIRED: N_("Give a short justification for the emergency."),
    R.JUSTIFICATION_TOO_LONG: N_("The justification is too long."),
    # Policies signed by both sides
    R.ALREADY_PROPOSED: N_("A proposal of ours is already waiting for the other side."),
    R.CONFLICTING_PROPOSAL: N_(
        "The other side proposed a different version at the same time; it has been resolved."
    ),
    R.NO_PROPOSAL: N_(
        "The other side's proposal has not arrived yet: it travels over the link once both "
        "nodes are serving."
    ),
    R.OWN_PROPOSAL: N_("The other side countersigns our proposals, not we."),
    # The phrasebook agreed on a link
    R.PHRASEBOOK_NOT_IN_FORCE: N_(
        "That agreed text is not from the phrasebook version both sides signed for this link."
    ),
    # The node, its paths and relays
    R.NO_NODE: N_("There is no node here."),
    R.NODE_EXISTS: N_("A node already exists here."),
    R.BAD_CONFIGURATION: N_("The node's configuration is not valid."),
    R.BAD_URL: N_("That is not an https address with a host and a port."),
    R.DUPLICATE_PATH: N_("The link already has that path."),
    R.TOO_MANY_PATHS: N_("The link has as many paths as it may have."),
    R.BAD_CERTIFICATE: N_("That certificate is refused."),
    R.FINGERPRINT_MISMATCH: N_("The fingerprint does not match: do not go on."),
    R.RELAY_PARTIES: N_("A relayed link has two parties, each named once."),
    # Console accounts
    R.INVALID_USERNAME: N_("That user name is not valid."),
    R.INVALID_DISPLAY_NAME: N_("That display name is not valid."),
    R.USERNAME_TAKEN: N_("That user name is taken."),
    R.WEAK_PASSWORD: N_("That password is too weak."),
    R.INVALID_LANGUAGE: N_("That language is not offered."),
    R.INVALID_TIMEZONE: N_("That time zone is not known."),
    R.LAST_ADMINISTRATOR: N_("The last administrator cannot be removed or disabled."),
    R.INVALID_FILTER: N_("The request was not valid."),
    R.LOCKED: N_("Wrong name, password or code, or the account is locked."),
    R.DISABLED: N_("Wrong name, password or code, or the account is locked."),
    R.TOTP_REQUIRED: N_("Enter the code from your authenticator."),
    R.TOTP_INVALID: N_("Wrong name, password or code, or the account is locked."),
    R.TOTP_REUSED: N_("That code has been used already: wait for the next one."),
    # The protocol's codes, met where a signed document is read
    R.NON_CANONICAL: N_("The document is not in its one canonical form: refused."),
    R.TOO_LARGE: N_("The document is too large."),
    R.UNSUPPORTED_VERSION: N_("The document's version is not supported."),
    R.UNKNOWN_KIND: N_("The entry is of a kind this node does not know."),
    R.BAD_SIGNATURE: N_("A signature does not verify: the document was changed or forged."),
    R.UNKNOWN_SENDER: N_("The sender is not a party of this link."),
    R.WRONG_LINK: N_("The document belongs to another link."),
    R.WRONG_RECIPIENT: N_("The document is not addressed to this party."),
    R.DECRYPT_FAILED: N_("The message could not be decrypted."),
    R.DIGEST_MISMATCH: N_("The content does not match its signed digest."),
    R.REPLAY: N_("The entry repeats one already recorded, with different content."),
    R.CHAIN_BROKEN: N_("The entry does not follow the chain of the record."),
    R.SEQUENCE_GAP: N_("Entries are missing before this one."),
    R.BAD_REFERENCE: N_("The entry refers to something that is not in the record."),
    R.EXPIRED: N_("The invitation has expired."),
    R.ALREADY_USED: N_("The invitation has already been used."),
    R.WRONG_VERSION: N_("That version is not the next one, or is no longer proposed."),
    # The phrasebook and the glossary
    R.WRONG_TYPE: N_("A value is of the wrong type."),
    R.BAD_FORMAT: N_("A value is not written in its expected form."),
    R.OUT_OF_RANGE: N_("A value is out of range."),
    R.UNKNOWN_OPTION: N_("Choose one of the listed options."),
    R.UNKNOWN_UNIT: N_("That unit is not allowed here."),
    R.NOT_A_MESSAGE: N_("That is not a message built from the phrasebook."),
    R.MISSING_PARAMETER: N_("Fill in every field of the agreed text."),
    R.UNEXPECTED_PARAMETER: N_("The agreed text has no such field."),
    R.UNKNOWN_LANGUAGE: N_("That language is not one of the link's languages."),
    R.MISSING_LANGUAGE: N_("An entry lacks its wording in one of the languages."),
    R.PARAMETER_MISMATCH: N_("The wordings of an entry do not name the same fields."),
    R.UNKNOWN_TYPE: N_("An entry uses a type of field that does not exist."),
    R.DUPLICATE_ID: N_("Two entries have the same id."),
    R.BAD_ENUM: N_("A list of options lacks a wording in one of the languages."),
    R.BAD_TEMPLATE: N_("An entry's wording is not a valid template."),
    R.BAD_CONSTRAINT: N_("A field's limits are not valid."),
    R.UNKNOWN_CATEGORY: N_("An entry is in a category that does not exist."),
}

# Refusals after which the console offers to send the same text on the routine channel.
ROUTINE_OFFER = frozenset({R.NOT_AN_EMERGENCY, R.NO_POLICY, R.UNKNOWN_CRITERION})
