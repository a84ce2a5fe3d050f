"""Authentication shared by both web services: organisations, accounts, API tokens and sessions."""
