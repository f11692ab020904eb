"""What a link allows and what it does about silence: the link policy, the emergency
channel, escalation, link tests, alerts and their figures."""
