"""prisme_localinfra."""
