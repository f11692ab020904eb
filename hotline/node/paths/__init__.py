"""A link's paths: where the peer can be reached, warm connections to them, and
their liveness from heartbeats."""
