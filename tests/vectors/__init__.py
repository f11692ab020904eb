"""Published protocol test vectors: ``generate.py`` writes ``protocol-v1.json``."""
