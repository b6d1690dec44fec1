"""prisme_video."""
