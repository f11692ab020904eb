"""The language of a link: its agreed documents and messages, and the translations
the node keeps and makes."""
