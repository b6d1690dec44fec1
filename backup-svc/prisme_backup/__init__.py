"""prisme_backup."""
