"""prisme_contracts."""
