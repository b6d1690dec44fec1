"""prisme_billing."""
