"""The dashboard's server-rendered pages (French), their security and their shared layout."""
