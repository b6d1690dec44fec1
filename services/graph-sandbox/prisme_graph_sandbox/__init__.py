"""prisme_graph_sandbox."""
