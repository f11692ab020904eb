"""The peer listener's HTTP protocol: bounded requests, plus the TLS client certificate
in the ASGI scope.

uvicorn does not expose the peer certificate; the peer API needs it to check that
a request for link L comes from the certificate pinned for L, not merely from some
linked party. It is placed at ``scope["extensions"]["tls"]["client_cert"]`` (DER).
"""

from __future__ import annotations

from typing import Any

from .bounded_http import BoundedHttpProtocol


class PeerCertHttpProtocol(BoundedHttpProtocol):
    def on_message_begin(self) -> None:
        super().on_message_begin()
        ssl_object: Any = self.transport.get_extra_info("ssl_object")
        cert = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        extensions = dict(self.scope.get("extensions") or {})
        extensions["tls"] = {"client_cert": cert}
        self.scope["extensions"] = extensions
