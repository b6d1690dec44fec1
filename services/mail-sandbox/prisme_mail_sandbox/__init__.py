"""Local stand-in for an SMTP relay with a readable inbox (DESIGN.md §6)."""
