"""The protocol core: envelope, keys, encryption, signatures, record and verification.

Everything in this package is pure: no files, no sockets, no clocks, no randomness
unless the caller passes it in. Storage, transport, web and CLI sit around it.
"""

PROTOCOL_VERSION = 1
