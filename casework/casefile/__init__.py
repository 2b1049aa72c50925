"""The case file: everything of a case, decrypted, for the lawyers building a prosecution."""
