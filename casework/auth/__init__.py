"""Who is calling (sessions, bearer tokens, the TOTP second factor), their passwords, and what an
account must do first (``rules``); what they may do is ``policy.authorize``."""
