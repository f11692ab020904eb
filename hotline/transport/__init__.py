"""Transport between nodes: HTTPS with mutual TLS and pinned peer certificates."""
