"""Stripe API resources, one module per resource family."""
