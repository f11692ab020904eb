"""The node: one party's server, storage and keys around the protocol core."""
