"""prisme_stripe_sandbox."""
