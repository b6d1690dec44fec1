"""prisme_licence."""
