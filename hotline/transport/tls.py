"""Mutual TLS between sovereign nodes, with each peer's certificate pinned.

Every node has one self-signed certificate (Ed25519 key). Two linked nodes exchange their
certificates out of band (during linking) and from then on trust *exactly* those certificates:
no certificate authorities, no system trust store, no host-name checks.

* :func:`server_context` requires a client certificate and accepts only pinned peers.
* :func:`client_context` presents our certificate and accepts only the one pinned server;
  a new connection on it resumes the TLS session of an earlier one (:class:`ResumingContext`).
* :func:`trust_peer` pins one more peer on a live server context (a link completed at runtime).
* :func:`make_uvicorn_server` makes uvicorn serve with *our* :class:`ssl.SSLContext`,
  with uvicorn's own handshake: no deadline short of the loop's 60 s, no caps. The
  node's peer listener does TLS itself, behind caps (:mod:`hotline.web.peer_listener`).

Key type: Ed25519. With the OpenSSL 3 used by Python here, Ed25519 certificates work for TLS 1.3
both as server and as client certificate (tests/node/test_tls.py tries both directions). Both ends
are Hotline nodes, so wider interoperability (browsers, old stacks) is not needed.
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import ipaddress
import os
import socket
import ssl
import time
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:  # uvicorn is loaded by the node's server only, not by every command
    import uvicorn
    from starlette.types import ASGIApp

__all__ = [
    "ResumingContext",
    "certificate_der",
    "certificate_fingerprint",
    "certificate_pem",
    "check_pin",
    "client_context",
    "make_certificate",
    "make_uvicorn_server",
    "server_context",
    "trust_peer",
]

StrPath = str | os.PathLike[str]

# Tolerate clocks a little behind ours when the certificate is used right after creation.
_CLOCK_SKEW = datetime.timedelta(minutes=5)
# TLS 1.3 session tickets a server sends after each handshake (a client keeps the newest).
SESSION_TICKETS = 1
# Connections a :class:`ResumingContext` remembers, to take a session ticket from.
_REMEMBERED_CONNECTIONS = 4


def make_certificate(
    party: str, endpoints_hosts: list[str], *, days: int = 3650
) -> tuple[bytes, bytes]:
    """Generate an Ed25519 key and a self-signed certificate for ``party``.

    The subject and issuer common name is ``party``; ``endpoints_hosts`` go into the subject
    alternative name, as IP addresses when they parse as one and as DNS names otherwise.
    Returns ``(certificate PEM, private key PEM)``; the key is PKCS#8 and *unencrypted*, so the
    caller must store it privately (see :func:`hotline.files.write_private_file`).
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    key = ed25519.Ed25519PrivateKey.generate()
    public_key = key.public_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, party)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=days))
        # An end-entity certificate: it must not be usable to issue other certificates, so a
        # pinned peer cannot mint certificates that would chain to its own pin.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    names = [_general_name(host) for host in endpoints_hosts]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(key, algorithm=None)  # Ed25519 signs without a separate hash.
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def certificate_der(pem: bytes) -> bytes:
    """Convert one PEM certificate to DER (parsing it, so malformed input raises ValueError)."""
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def certificate_pem(der: bytes) -> bytes:
    """Convert one DER certificate to PEM (parsing it, so malformed input raises ValueError)."""
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def certificate_fingerprint(der: bytes) -> str:
    """SHA-256 of the DER certificate, as lowercase hex without colons."""
    return hashlib.sha256(der).hexdigest()


def server_context(
    cert_pem_path: StrPath, key_pem_path: StrPath, peer_certs_der: list[bytes]
) -> ssl.SSLContext:
    """A TLS 1.3 server context that requires a client certificate from a pinned peer.

    Only the certificates in ``peer_certs_der`` are trusted (as self-signed trust anchors); the
    system trust store is never loaded. An empty list is allowed and refuses every client until
    :func:`trust_peer` adds one.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(cert_pem_path, key_pem_path)
    # One TLS 1.3 session ticket per connection, so that a peer whose connection must be
    # remade resumes (one less signature each way; psk_dhe_ke keeps forward secrecy).
    # A resumed session skips verifying the client certificate again, which loses
    # nothing: pins are only ever added to a context, never removed, so a certificate
    # verified when the ticket was issued still verifies. The ticket keys live and die
    # with this context: after a restart (the only way to unpin) tickets from before are
    # refused and the client makes a full handshake. The certificate stays in the
    # session, so the peer API still checks it against the link's pin on every request.
    ctx.num_tickets = SESSION_TICKETS
    for der in peer_certs_der:
        trust_peer(ctx, der)
    return ctx


def trust_peer(ctx: ssl.SSLContext, der: bytes) -> None:
    """Pin one more peer certificate on a context, including one a running server is using.

    New handshakes see it at once; nothing needs restarting. (There is no way to *remove* a
    certificate from a context: to unpin a peer, build a new context and restart the listener.)
    """
    _check_pin(der)
    ctx.load_verify_locations(cadata=der)


def check_pin(der: bytes) -> None:
    """Raise ValueError unless ``der`` is a certificate that may be pinned (not a CA)."""
    _check_pin(der)


def _check_pin(der: bytes) -> None:
    """Reject what cannot be a peer's pin, with a clear ValueError rather than an ssl.SSLError.

    A pin is loaded as a trust anchor. If it were a CA certificate, its holder could issue other
    certificates (other names, other keys) that would verify against it; as an end-entity
    certificate (as :func:`make_certificate` makes) OpenSSL accepts only the certificate itself.
    """
    certificate = x509.load_der_x509_certificate(der)
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return
    if constraints.value.ca:
        raise ValueError("a pinned peer certificate must not be a CA certificate")


def client_context(
    cert_pem_path: StrPath, key_pem_path: StrPath, peer_cert_der: bytes
) -> ResumingContext:
    """A TLS 1.3 client context that presents our certificate and trusts one pinned server."""
    ctx = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    # No host-name check: the peer is identified by the pinned certificate itself, which is the
    # only trust anchor in this context, not by a name a CA vouched for. The peer's address may
    # also change (or be reached through a tunnel or proxy) without its certificate changing.
    # The chain is still fully verified (CERT_REQUIRED), so only the pinned key can succeed.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(cert_pem_path, key_pem_path)
    _check_pin(peer_cert_der)
    ctx.load_verify_locations(cadata=peer_cert_der)
    return ctx


class ResumingContext(ssl.SSLContext):
    """A client context whose new connections resume the TLS session of an earlier one.

    Python's ssl keeps no client-side session cache: a session is resumed only when it
    is passed to ``wrap_bio`` / ``wrap_socket``, which HTTP clients (httpx, anyio) never
    do. This context does it for them: it remembers the last few connections it made
    and offers the newest session ticket any of them received. Keep one context per
    peer and path, and every reconnection after the first resumes. TLS 1.3 delivers
    tickets after the handshake, so a connection's ticket is looked for only when the
    next connection is made."""

    def __init__(self, protocol: int = ssl.PROTOCOL_TLS_CLIENT) -> None:
        # ssl.SSLContext does its work in __new__ (which took ``protocol``).
        super().__init__()
        # Held (not weakly): a connection closed and gone before the next one is made
        # would take its ticket with it. A handful of closed SSL objects is cheap.
        self._connections: collections.deque[ssl.SSLObject | ssl.SSLSocket] = collections.deque(
            maxlen=_REMEMBERED_CONNECTIONS
        )
        self._session: ssl.SSLSession | None = None
        # A blocking socket forgets its session once closed: it hands it over first.
        self.sslsocket_class = _SessionKeepingSocket

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        if session is None and not server_side:
            session = self.resumable_session()
        connection = super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)
        self._connections.append(connection)
        return connection

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        if session is None and not server_side:
            session = self.resumable_session()
        connection = super().wrap_socket(
            sock,
            server_side,
            do_handshake_on_connect,
            suppress_ragged_eofs,
            server_hostname,
            session,
        )
        self._connections.append(connection)
        return connection

    def resumable_session(self) -> ssl.SSLSession | None:
        """The newest session with a ticket still valid, from the remembered connections."""
        for connection in self._connections:
            self.keep(connection)
        session = self._session
        if session is not None and session.time + session.timeout <= time.time():
            self._session = session = None
        return session

    def keep(self, connection: ssl.SSLObject | ssl.SSLSocket) -> None:
        """Keep the connection's session if it has a ticket newer than the one kept."""
        try:
            session = connection.session
        except (ValueError, OSError):  # closed, or not connected yet
            return
        if (
            session is not None
            and session.has_ticket
            and (self._session is None or session.time >= self._session.time)
        ):
            self._session = session


class _SessionKeepingSocket(ssl.SSLSocket):
    def close(self) -> None:
        if isinstance(self.context, ResumingContext):
            self.context.keep(self)
        super().close()


def make_uvicorn_server(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext,
    log_level: str = "warning",
) -> uvicorn.Server:
    """A uvicorn server for ``app`` that serves TLS with exactly ``ssl_context``.

    uvicorn normally builds its own context from file paths. Its supported hook for a
    caller-made context is ``Config(ssl_context_factory=...)``: ``Config.load()`` calls the
    factory, stores the result as ``config.ssl`` and hands it to ``loop.create_server``; the
    config then also counts as TLS (``is_ssl``), so logs and URLs say https. Because the very
    same object is used, :func:`trust_peer` on ``ssl_context`` affects the running server.

    Run it with ``await server.serve()`` (binds ``host``/``port``) or, to use a socket the
    caller already bound (for example to port 0, reading the real port afterwards),
    ``await server.serve(sockets=[sock])`` (``host``/``port`` are then only informational).
    """
    import uvicorn

    def factory(_config: uvicorn.Config, _default: object) -> ssl.SSLContext:
        return ssl_context

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ssl_context_factory=factory,
    )
    return uvicorn.Server(config)
