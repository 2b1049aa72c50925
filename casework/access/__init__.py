"""Access: the roles table, targets, and the one door that decides and records (``door``)."""
