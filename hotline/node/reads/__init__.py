"""Read models for the console: each module answers one question about the node's
records and hands back frozen values, so the web layer renders without a session."""
