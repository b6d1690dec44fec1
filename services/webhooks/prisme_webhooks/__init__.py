"""PRISME webhooks: integrators endpoints (Standard Webhooks 1.0) and alert e-mails (S1)."""
