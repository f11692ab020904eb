"""Mutual TLS with pinned certificates: real sockets, real uvicorn servers, real httpx clients."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import socket
import ssl
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from hotline.files import write_private_file
from hotline.transport.tls import (
    SESSION_TICKETS,
    certificate_der,
    certificate_fingerprint,
    certificate_pem,
    client_context,
    make_certificate,
    make_uvicorn_server,
    server_context,
    trust_peer,
)

pytestmark = pytest.mark.timeout(30)

HOST = "127.0.0.1"


@dataclass
class Party:
    name: str
    cert_path: Path
    key_path: Path
    cert_pem: bytes
    der: bytes


@pytest.fixture
def make_party(tmp_path: Path) -> Callable[[str], Party]:
    def make(name: str) -> Party:
        cert_pem, key_pem = make_certificate(name, [HOST, "localhost", f"{name}.example"])
        cert_path = tmp_path / f"{name}.crt"
        key_path = tmp_path / f"{name}.key"
        cert_path.write_bytes(cert_pem)
        write_private_file(key_path, key_pem)
        return Party(name, cert_path, key_path, cert_pem, certificate_der(cert_pem))

    return make


@pytest.fixture
def parties(make_party: Callable[[str], Party]) -> tuple[Party, Party, Party]:
    return make_party("alice"), make_party("bob"), make_party("carol")


@dataclass
class Hits:
    paths: list[str] = field(default_factory=list)
    schemes: list[str] = field(default_factory=list)


def tiny_app(hits: Hits) -> Starlette:
    async def hello(request: Request) -> PlainTextResponse:
        hits.paths.append(request.url.path)
        hits.schemes.append(request.scope["scheme"])
        return PlainTextResponse("hello")

    return Starlette(routes=[Route("/", hello)])


@contextlib.contextmanager
def running(app: Starlette, ctx: ssl.SSLContext, *, bound_socket: bool = True) -> Iterator[int]:
    """Run a uvicorn server in a thread on 127.0.0.1, port 0; yield the real port."""
    sock: socket.socket | None = None
    if bound_socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
    server = make_uvicorn_server(app, host=HOST, port=0, ssl_context=ctx)
    server.config.timeout_graceful_shutdown = 2
    sockets = [sock] if sock is not None else None
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        if sock is not None:
            port = sock.getsockname()[1]
        else:
            listening = server.servers[0].sockets
            port = listening[0].getsockname()[1]
        assert isinstance(port, int)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if sock is not None:
            sock.close()
        assert not thread.is_alive(), "uvicorn did not shut down"


def get(ctx: ssl.SSLContext, port: int) -> httpx.Response:
    with httpx.Client(verify=ctx, timeout=5) as client:
        return client.get(f"https://{HOST}:{port}/")


def ssl_error_in_chain(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


# How a refusal by the *server* looks to the client. In TLS 1.3 the client finishes its side of
# the handshake before the server has checked the client certificate, so httpx's connect()
# succeeds; the server then rejects the certificate and closes the connection before reading any
# HTTP. asyncio's (and uvloop's) SSL transport drops the TLS alert it would send, so the client
# usually sees a plain EOF (RemoteProtocolError "Server disconnected without sending a
# response"), or a reset/SSL error depending on timing. Never an HTTP response.
SERVER_REFUSAL = (
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.ConnectError,
)


def assert_refused_by_server(ctx: ssl.SSLContext, port: int) -> None:
    with pytest.raises(httpx.TransportError) as exc_info:
        get(ctx, port)
    assert isinstance(exc_info.value, SERVER_REFUSAL), repr(exc_info.value)

    # The same with a bare TLS socket: the handshake "completes" on the client side, then the
    # server hangs up without ever answering the request.
    with (
        socket.create_connection((HOST, port), timeout=5) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        assert tls.version() == "TLSv1.3"
        with contextlib.suppress(ConnectionResetError, BrokenPipeError, ssl.SSLError):
            tls.sendall(b"GET / HTTP/1.1\r\nHost: peer\r\n\r\n")
        try:
            answer = tls.recv(1024)
        except (ConnectionResetError, ssl.SSLError):
            answer = b""
        assert answer == b""


# --- certificates ---------------------------------------------------------------------------


def test_certificate_contents_and_conversions() -> None:
    cert_pem, key_pem = make_certificate("alice", ["127.0.0.1", "::1", "node.example"], days=30)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert isinstance(cert.public_key(), ed25519.Ed25519PublicKey)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert san.get_values_for_type(x509.DNSName) == ["node.example"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=30) <= lifetime <= datetime.timedelta(days=30, hours=1)
    cert.verify_directly_issued_by(cert)  # self-signed

    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert key.public_key() == cert.public_key()

    der = certificate_der(cert_pem)
    assert certificate_pem(der) == cert_pem
    assert certificate_der(certificate_pem(der)) == der
    fingerprint = certificate_fingerprint(der)
    assert fingerprint == cert.fingerprint(hashes.SHA256()).hex()
    assert len(fingerprint) == 64
    assert fingerprint == fingerprint.lower()
    assert ":" not in fingerprint

    other_pem, _ = make_certificate("alice", ["127.0.0.1"])
    assert certificate_fingerprint(certificate_der(other_pem)) != fingerprint

    with pytest.raises(ValueError):
        certificate_der(b"not a certificate")


def test_certificate_without_hosts_has_no_san() -> None:
    cert = x509.load_pem_x509_certificate(make_certificate("lonely", [])[0])
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


# --- mutual TLS -----------------------------------------------------------------------------


def test_pinned_peers_connect(parties: tuple[Party, Party, Party]) -> None:
    alice, bob, _ = parties
    hits = Hits()
    bob_ctx = server_context(bob.cert_path, bob.key_path, [alice.der])
    with running(tiny_app(hits), bob_ctx) as port:
        response = get(client_context(alice.cert_path, alice.key_path, bob.der), port)
    assert response.status_code == 200
    assert response.text == "hello"
    assert hits.paths == ["/"]
    assert hits.schemes == ["https"]


def _reused(response: httpx.Response) -> bool:
    ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
    return bool(ssl_object.session_reused)


async def _get_async(ctx: ssl.SSLContext, port: int) -> tuple[str, bool]:
    async with httpx.AsyncClient(verify=ctx, timeout=5) as client:
        response = await client.get(f"https://{HOST}:{port}/")
        return response.text, _reused(response)


def _get_sync(ctx: ssl.SSLContext, port: int) -> tuple[str, bool]:
    with httpx.Client(verify=ctx, timeout=5) as client:
        response = client.get(f"https://{HOST}:{port}/")
        return response.text, _reused(response)


def test_a_connection_after_one_closed_resumes_the_session(
    parties: tuple[Party, Party, Party],
) -> None:
    """Asynchronous clients (as nodes use) and blocking ones; each client is closed
    before the next connects."""
    alice, bob, _ = parties
    hits = Hits()
    bob_ctx = server_context(bob.cert_path, bob.key_path, [alice.der])
    alice_ctx = client_context(alice.cert_path, alice.key_path, bob.der)
    with running(tiny_app(hits), bob_ctx) as port:
        first = asyncio.run(_get_async(alice_ctx, port))
        second = asyncio.run(_get_async(alice_ctx, port))
        third = _get_sync(alice_ctx, port)
        fourth = _get_sync(alice_ctx, port)
    assert [first, second, third, fourth] == [
        ("hello", False),
        ("hello", True),
        ("hello", True),
        ("hello", True),
    ]
    assert len(hits.paths) == 4


def test_a_restarted_server_refuses_tickets_from_before(
    parties: tuple[Party, Party, Party],
) -> None:
    """Ticket keys live and die with the server context: after a restart (how a peer is
    unpinned) the client's ticket is not accepted, and it makes a full handshake."""
    alice, bob, carol = parties
    alice_ctx = client_context(alice.cert_path, alice.key_path, bob.der)
    with running(tiny_app(Hits()), server_context(bob.cert_path, bob.key_path, [alice.der])) as p:
        assert _get_sync(alice_ctx, p) == ("hello", False)
        assert _get_sync(alice_ctx, p) == ("hello", True)
    assert alice_ctx.resumable_session() is not None
    with running(tiny_app(Hits()), server_context(bob.cert_path, bob.key_path, [alice.der])) as p:
        assert _get_sync(alice_ctx, p) == ("hello", False)
    # Restarted without alice's pin: her ticket from before does not let her in.
    with running(tiny_app(Hits()), server_context(bob.cert_path, bob.key_path, [carol.der])) as p:
        assert alice_ctx.resumable_session() is not None
        assert_refused_by_server(alice_ctx, p)


def test_server_binding_host_and_port_itself(parties: tuple[Party, Party, Party]) -> None:
    alice, bob, _ = parties
    hits = Hits()
    bob_ctx = server_context(bob.cert_path, bob.key_path, [alice.der])
    with running(tiny_app(hits), bob_ctx, bound_socket=False) as port:
        response = get(client_context(alice.cert_path, alice.key_path, bob.der), port)
    assert response.status_code == 200
    assert hits.paths == ["/"]


def test_unpinned_client_is_refused(parties: tuple[Party, Party, Party]) -> None:
    alice, bob, carol = parties
    hits = Hits()
    bob_ctx = server_context(bob.cert_path, bob.key_path, [alice.der])
    # Carol pins Bob correctly, so only Bob's refusal of Carol can fail this connection.
    carol_ctx = client_context(carol.cert_path, carol.key_path, bob.der)
    with running(tiny_app(hits), bob_ctx) as port:
        assert_refused_by_server(carol_ctx, port)
        # The server is unharmed: a pinned peer still gets through.
        assert get(client_context(alice.cert_path, alice.key_path, bob.der), port).text == "hello"
    assert hits.paths == ["/"]  # only Alice's request reached the app


def test_client_without_certificate_is_refused(parties: tuple[Party, Party, Party]) -> None:
    alice, bob, _ = parties
    hits = Hits()
    bob_ctx = server_context(bob.cert_path, bob.key_path, [alice.der])
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.minimum_version = ssl.TLSVersion.TLSv1_3
    anonymous.check_hostname = False
    anonymous.load_verify_locations(cadata=bob.der)
    with running(tiny_app(hits), bob_ctx) as port:
        assert_refused_by_server(anonymous, port)
    assert hits.paths == []


def test_client_refuses_server_that_is_not_the_pinned_one(
    parties: tuple[Party, Party, Party],
) -> None:
    alice, bob, carol = parties
    hits = Hits()
    # Carol's server would accept Alice; Alice, however, expects Bob.
    carol_ctx = server_context(carol.cert_path, carol.key_path, [alice.der])
    alice_to_bob = client_context(alice.cert_path, alice.key_path, bob.der)
    with (
        running(tiny_app(hits), carol_ctx) as port,
        pytest.raises(httpx.ConnectError) as exc_info,
    ):
        get(alice_to_bob, port)
    assert isinstance(ssl_error_in_chain(exc_info.value), ssl.SSLCertVerificationError)
    assert hits.paths == []


def test_trust_peer_on_live_server(parties: tuple[Party, Party, Party]) -> None:
    alice, bob, carol = parties
    hits = Hits()
    bob_ctx = server_context(bob.cert_path, bob.key_path, [alice.der])
    carol_ctx = client_context(carol.cert_path, carol.key_path, bob.der)
    with running(tiny_app(hits), bob_ctx) as port:
        assert_refused_by_server(carol_ctx, port)
        assert hits.paths == []

        trust_peer(bob_ctx, carol.der)  # the link with Carol completes; no restart

        assert get(carol_ctx, port).status_code == 200
        assert get(client_context(alice.cert_path, alice.key_path, bob.der), port).text == "hello"
    assert hits.paths == ["/", "/"]


def test_server_with_no_pins_refuses_everyone(parties: tuple[Party, Party, Party]) -> None:
    alice, bob, _ = parties
    hits = Hits()
    bob_ctx = server_context(bob.cert_path, bob.key_path, [])
    with running(tiny_app(hits), bob_ctx) as port:
        assert_refused_by_server(client_context(alice.cert_path, alice.key_path, bob.der), port)
    assert hits.paths == []


def test_certificate_issued_with_a_pinned_peers_key_is_refused(
    parties: tuple[Party, Party, Party], tmp_path: Path
) -> None:
    """A pin is an end-entity certificate: Alice cannot mint other identities under it."""
    alice, bob, _ = parties
    alice_key = serialization.load_pem_private_key(alice.key_path.read_bytes(), password=None)
    assert isinstance(alice_key, ed25519.Ed25519PrivateKey)
    alice_cert = x509.load_der_x509_certificate(alice.der)
    forged_key = ed25519.Ed25519PrivateKey.generate()
    now = datetime.datetime.now(datetime.UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mallory")]))
        .issuer_name(alice_cert.subject)
        .public_key(forged_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(alice_key, algorithm=None)
    )
    chain = tmp_path / "forged-chain.pem"
    chain.write_bytes(forged.public_bytes(serialization.Encoding.PEM) + alice.cert_pem)
    forged_key_path = tmp_path / "forged.key"
    write_private_file(
        forged_key_path,
        forged_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )

    hits = Hits()
    bob_ctx = server_context(bob.cert_path, bob.key_path, [alice.der])
    with running(tiny_app(hits), bob_ctx) as port:
        assert_refused_by_server(client_context(chain, forged_key_path, bob.der), port)
    assert hits.paths == []


def test_contexts_require_tls13(parties: tuple[Party, Party, Party]) -> None:
    alice, bob, _ = parties
    server = server_context(bob.cert_path, bob.key_path, [alice.der])
    client = client_context(alice.cert_path, alice.key_path, bob.der)
    for ctx in (server, client):
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
        assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert client.check_hostname is False
    assert server.num_tickets == SESSION_TICKETS >= 1
    with pytest.raises(ValueError):
        trust_peer(server, b"garbage")


def test_ca_certificates_cannot_be_pinned(parties: tuple[Party, Party, Party]) -> None:
    alice, bob, _ = parties
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "some-ca")])
    now = datetime.datetime.now(datetime.UTC)
    ca_der = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, algorithm=None)
        .public_bytes(serialization.Encoding.DER)
    )
    with pytest.raises(ValueError, match="CA"):
        server_context(bob.cert_path, bob.key_path, [ca_der])
    with pytest.raises(ValueError, match="CA"):
        trust_peer(server_context(bob.cert_path, bob.key_path, []), ca_der)
    with pytest.raises(ValueError, match="CA"):
        client_context(alice.cert_path, alice.key_path, ca_der)


# --- private files --------------------------------------------------------------------------


def test_write_private_file_is_0600_and_atomic(tmp_path: Path) -> None:
    target = tmp_path / "node.key"
    write_private_file(target, b"secret one")
    assert target.read_bytes() == b"secret one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    # Replacing a file that was world-readable leaves a private file, not the old mode.
    target.chmod(0o644)
    write_private_file(target, b"secret two")
    assert target.read_bytes() == b"secret two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node.key"]  # no temporary left


def test_write_private_file_cleans_up_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "node.key"
    with pytest.raises(FileNotFoundError):
        write_private_file(target, b"secret")
    assert list(tmp_path.iterdir()) == []
