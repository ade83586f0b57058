"""The kinds of outbound text, as recorded on each message, and which rules apply to which."""

from __future__ import annotations

OPT_OUT_CONFIRMATION = "opt_out"
STAFF_ALERT = "staff_alert"  # texts telling staff a conversation (or the service) needs them
# Texts nobody asked for just now: a spent budget holds them first.
PROACTIVE = frozenset({"notification", "digest", "reminder"})
# Texts that only take a send slot free right now (storage/pacing.py): replies, keyword confirmations and
# verification codes reserve the next one, so a backlog of these never delays someone waiting for an answer.
TAKES_FREE_SLOTS = PROACTIVE | {STAFF_ALERT}
# Never held by a budget: a STOP must be confirmed, and staff must hear that the budget is spent.
NEVER_HELD = frozenset({OPT_OUT_CONFIRMATION, STAFF_ALERT})
# Replies that already tell the customer about STOP don't need the first-message disclosure.
SELF_DISCLOSING = frozenset({OPT_OUT_CONFIRMATION, "opt_in", "help", "opt_out_unclear"})
# Texts that expect no answer, so they may go from an alphanumeric sender ID (one-way: it can't be texted
# back); everything else goes from a number the customer can reply to.
ONE_WAY_KINDS = PROACTIVE | {STAFF_ALERT, "verification"}
# Of those, the ones whose wording asks for a text back (the reminder's "text us here"): from a sender ID
# they say which number to text.
INVITES_REPLY = frozenset({"reminder"})
