"""Entries on their way: our messages into the record and the outbox, the
deliverer's pushes and pulls, the peer's entries into the record, and relaying
for others."""
