"""prisme_chassis."""
