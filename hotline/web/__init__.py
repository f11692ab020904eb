"""HTTP edges: the peer API (mutual TLS, other nodes only) and the local API (operators)."""
