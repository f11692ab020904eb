"""The duty officer's web console, served on the node's local listener."""
