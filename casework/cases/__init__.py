"""Cases (investigations) and who is a member of each."""
