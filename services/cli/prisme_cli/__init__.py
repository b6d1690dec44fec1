"""prisme_cli."""
