"""The PRISME operations dashboard: operators, sign-in, sessions and the token issuer."""
