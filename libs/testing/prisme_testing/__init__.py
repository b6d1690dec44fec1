"""prisme_testing."""
