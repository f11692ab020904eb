"""A node's data directory: configuration, keys, TLS material and the API token.

Layout::

    node.json            configuration (no secrets)
    identity.key         signing seed + encryption secret (0600)
    tls/cert.pem         self-signed certificate, pinned by peers at link set-up
    tls/key.pem          its private key (0600)
    api.token            the local API bearer token (0600)
    hotline.db           SQLite database, unless database_url points elsewhere

Reading the configuration needs pydantic and the settings' models only: the keys, the
certificate and the account checks import their libraries (nacl, cryptography,
argon2) when they are used, so a command that only reads ``node.json`` (status, the
user commands) starts without them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from ..accounts.errors import AccountError
from ..errors import NodeError as NodeError
from ..files import write_private_file
from ..language.translation import tags
from ..language.translation.settings import NodeTranslationSettings
from ..transport.limits import PeerLimits
from ..untrusted import is_inert
from .heartbeat_timings import HeartbeatTimings

if TYPE_CHECKING:
    from ..protocol.keys import PrivateIdentity

CONFIG_FILE = "node.json"
IDENTITY_FILE = "identity.key"
TOKEN_FILE = "api.token"


def _plain(name: str) -> str:
    if not is_inert(name):
        raise ValueError("a name may not hold control or invisible formatting characters")
    return name


PartyName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_plain),
]

_PARTY_NAMES = TypeAdapter(dict[str, dict[str, PartyName]])


class NodeConfig(BaseModel):
    party: str
    database_url: str
    peer_host: str = "127.0.0.1"
    peer_port: int = Field(default=7443, ge=0, le=65535)
    local_host: str = "127.0.0.1"
    local_port: int = Field(default=7080, ge=0, le=65535)
    endpoints: list[str]
    api_token_sha256: str
    heartbeats: HeartbeatTimings = Field(default_factory=HeartbeatTimings)
    # How often the deliverer looks at the outbox when nothing in this process woke
    # it: entries queued by another process serving the node, or queued for later.
    outbox_poll_s: float = Field(default=0.25, gt=0, le=60)
    peer_limits: PeerLimits = Field(default_factory=PeerLimits)
    # Machine translation of incoming free text: reading languages, providers, detection.
    translation: NodeTranslationSettings = NodeTranslationSettings()
    # What people here call each party, ours and our peers', by language:
    # {"beijing": {"en": "Beijing", "zh-Hans": "北京"}} (see :meth:`party_name`).
    party_names: dict[str, dict[str, PartyName]] = Field(default_factory=dict)

    def party_name(self, party: str, lang: str) -> str:
        """The party's name in ``lang``: as set for that language, else for its base
        language ("zh" for "zh-Hans"), else in English, else the party's own
        identifier, capitalised."""
        names = self.party_names.get(party, {})
        for candidate in (lang, tags.language_of(lang), "en"):
            if candidate in names:
                return names[candidate]
        return party[:1].upper() + party[1:]

    def token_matches(self, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).hexdigest()
        return hmac.compare_digest(digest, self.api_token_sha256)


class NodeHome:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def cert_path(self) -> Path:
        return self.path / "tls" / "cert.pem"

    @property
    def key_path(self) -> Path:
        return self.path / "tls" / "key.pem"

    @property
    def token_path(self) -> Path:
        return self.path / TOKEN_FILE

    def exists(self) -> bool:
        return self.config_path.exists()

    def load_config(self) -> NodeConfig:
        """The node's configuration; NodeError, saying what to change, if it is
        unreadable, malformed or has both listeners on one address and port."""
        if not self.exists():
            raise NodeError(f"no node in {self.path}: run 'hotline init' first")
        try:
            config = NodeConfig.model_validate_json(self.config_path.read_text())
        except OSError as exc:
            raise NodeError(f"cannot read {self.config_path}: {exc.strerror}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: {e['msg']}"
                for e in exc.errors()
            )
            raise NodeError(
                f"{self.config_path} is not a valid configuration: {problems}"
            ) from None
        try:
            check_listeners(
                config.peer_host, config.peer_port, config.local_host, config.local_port
            )
        except NodeError as exc:
            raise NodeError(
                f"{self.config_path}: {exc}; change peer_port or local_port there"
            ) from None
        return config

    def save_config(self, config: NodeConfig) -> None:
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(_config_json(config), indent=2) + "\n")
        os.replace(tmp, self.config_path)

    def set_heartbeats(self, changes: dict[str, Any], *, reset: bool = False) -> HeartbeatTimings:
        """Change how this node watches its paths (``changes``: field → value, on the
        current timings or, with ``reset``, on the defaults) and save it; a running node
        uses the new timings once restarted. NodeError, nothing changed, if refused."""
        config = self.load_config()
        base = {} if reset else config.heartbeats.model_dump()
        try:
            timings = HeartbeatTimings.model_validate({**base, **changes})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'timings'}: {e['msg']}"
                for e in exc.errors()
            )
            raise NodeError(f"heartbeat timings refused, nothing changed: {problems}") from None
        self.save_config(config.model_copy(update={"heartbeats": timings}))
        return timings

    def set_translation(self, settings: dict[str, Any]) -> NodeTranslationSettings:
        """Replace the node's translation settings (``settings``: the ``translation``
        section of node.json, as data) and save them; a running node uses them once
        restarted. pydantic's ValidationError, nothing changed, if refused."""
        checked = NodeTranslationSettings.model_validate(settings)
        config = self.load_config()
        self.save_config(config.model_copy(update={"translation": checked}))
        return checked

    def set_party_name(self, party: str, lang: str, name: str | None) -> dict[str, dict[str, str]]:
        """Name ``party`` in ``lang`` (``None``: forget that name) and save it; a running
        node shows it once restarted. NodeError, nothing changed, if refused."""
        from ..protocol.envelope import NAME_PATTERN

        if not NAME_PATTERN.fullmatch(party):
            raise NodeError(f"{party!r} is not a party name (lower-case letters, digits, -)")
        if not tags.is_tag(lang):
            raise NodeError(f"{lang!r} is not a language tag like 'en' or 'zh-Hans'")
        config = self.load_config()
        names = {p: dict(by_lang) for p, by_lang in config.party_names.items()}
        if name is None:
            names.get(party, {}).pop(lang, None)
        else:
            names.setdefault(party, {})[lang] = name
        names = {p: by_lang for p, by_lang in names.items() if by_lang}
        try:
            checked = _PARTY_NAMES.validate_python(names)
        except ValidationError as exc:
            problems = "; ".join(e["msg"] for e in exc.errors())
            raise NodeError(f"name refused, nothing changed: {problems}") from None
        self.save_config(config.model_copy(update={"party_names": checked}))
        return checked

    def load_identity(self) -> PrivateIdentity:
        from ..protocol.encoding import decode
        from ..protocol.keys import PrivateIdentity

        config = self.load_config()
        value = decode((self.path / IDENTITY_FILE).read_bytes(), max_size=1024)
        return PrivateIdentity.from_seeds(
            config.party, value["signing_seed"], value["encryption_secret"]
        )

    def certificate_der(self) -> bytes:
        from ..transport.tls import certificate_der

        return certificate_der(self.cert_path.read_bytes())

    def api_token(self) -> str:
        return self.token_path.read_text().strip()


def init_node(
    path: Path,
    party: str,
    *,
    database_url: str | None = None,
    peer_host: str = "127.0.0.1",
    peer_port: int = 7443,
    local_host: str = "127.0.0.1",
    local_port: int = 7080,
    endpoints: list[str] | None = None,
    admin_username: str | None = None,
    admin_password: str | None = None,
) -> NodeHome:
    """Create a node: keys, certificate, token, configuration and database schema.

    With ``admin_username`` and ``admin_password``, also the console's first
    administrator (checked before anything is written)."""
    # The database layer is loaded here, not with this module: commands that only
    # read the node's files (fingerprint, certificate, heartbeats) start without it.
    from ..accounts.roles import Role
    from ..accounts.service import AccountService
    from ..protocol.encoding import encode
    from ..protocol.keys import PrivateIdentity
    from ..storage.database import make_engine, make_sessionmaker, sqlite_url, upgrade
    from ..transport.tls import make_certificate

    check_new_node(path, party)
    check_listeners(peer_host, peer_port, local_host, local_port)
    if (admin_username is None) != (admin_password is None):
        raise ValueError("give both admin_username and admin_password, or neither")
    if admin_username is not None and admin_password is not None:
        admin_username = check_admin(admin_username, admin_password)
    home = NodeHome(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    (path / "tls").mkdir(exist_ok=True)
    identity = PrivateIdentity.from_seeds(party, os.urandom(32), os.urandom(32))
    write_private_file(
        path / IDENTITY_FILE,
        encode(
            {"signing_seed": identity.signing_seed, "encryption_secret": identity.encryption_secret}
        ),
    )
    advertised = endpoints or [f"https://{peer_host}:{peer_port}"]
    hosts = sorted({peer_host, *(_host_of(e) for e in advertised)})
    cert_pem, key_pem = make_certificate(party, hosts)
    write_private_file(home.key_path, key_pem)
    home.cert_path.write_bytes(cert_pem)
    token = secrets.token_urlsafe(32)
    write_private_file(home.token_path, (token + "\n").encode())
    config = NodeConfig(
        party=party,
        database_url=database_url or sqlite_url(path / "hotline.db"),
        peer_host=peer_host,
        peer_port=peer_port,
        local_host=local_host,
        local_port=local_port,
        endpoints=advertised,
        api_token_sha256=hashlib.sha256(token.encode()).hexdigest(),
    )
    home.save_config(config)
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        if admin_username is not None and admin_password is not None:
            AccountService(make_sessionmaker(engine), party=party).add_user(
                admin_username, admin_password, role=Role.ADMINISTRATOR, actor="system:init"
            )
    finally:
        engine.dispose()
    return home


def check_new_node(path: Path, party: str) -> None:
    """Raise NodeError unless a node for ``party`` can be created in ``path``."""
    from ..protocol.envelope import NAME_PATTERN

    if not NAME_PATTERN.match(party):
        raise NodeError(
            f"party name {party!r} is invalid: use lower-case letters, digits and '-' "
            "(for example 'washington')"
        )
    if NodeHome(path).exists():
        raise NodeError(f"{path} already holds a node; choose another directory")


# Addresses that mean "every address" to bind(): a listener there takes the port on
# all of them, so it collides with a listener on any address with that port.
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def check_listeners(peer_host: str, peer_port: int, local_host: str, local_port: int) -> None:
    """Raise NodeError if the peer listener and the local API would take the same
    port: one address, or a wildcard (0.0.0.0, ::) and any address. Port 0 (a port
    the system picks) collides with nothing."""
    if peer_port != local_port or peer_port == 0:
        return
    peer, local = _canonical_host(peer_host), _canonical_host(local_host)
    if peer == local or peer in _WILDCARDS or local in _WILDCARDS:
        raise NodeError(
            f"the peer listener ({peer_host}:{peer_port}) and the local API "
            f"({local_host}:{local_port}) would both listen on port {peer_port}: "
            "give them different ports"
        )


def _canonical_host(host: str) -> str:
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return "127.0.0.1"
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host  # a name: compared as written


def check_admin(username: str, password: str) -> str:
    """The first administrator's normalised username; NodeError if it or the password
    would be refused."""
    from ..accounts.passwords import check_policy
    from ..accounts.profile import check_username

    try:
        name = check_username(username)
        check_policy(password, name)
    except AccountError as exc:
        raise NodeError(f"administrator account: {exc.message}") from None
    return name


def _config_json(config: NodeConfig) -> dict[str, Any]:
    """The configuration as JSON values; a LibreTranslate key is written as itself (pydantic
    masks secrets when it dumps them)."""
    document = config.model_dump(mode="json")
    for written, provider in zip(
        document["translation"]["providers"], config.translation.providers, strict=True
    ):
        key = getattr(provider, "api_key", None)
        if key is not None:
            written["api_key"] = key.get_secret_value()
    return document


def _host_of(endpoint: str) -> str:
    rest = endpoint.split("://", 1)[-1].split("/", 1)[0]
    if rest.startswith("["):
        return rest[1 : rest.index("]")]
    return rest.rsplit(":", 1)[0]
