"""backup-svc use cases, split by use case: plans, agents, watch, end of contract."""
