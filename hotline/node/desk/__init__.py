"""What people at a console do on a link: messages, drafts and calls, the link's
rules and its language."""
