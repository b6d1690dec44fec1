-- Login-name collision look-ups (prefix LIKE on lower(upn)) stay indexed at 50,000 accounts.
CREATE INDEX accounts_upn_prefix ON accounts (graph_tenant, lower(upn) text_pattern_ops);
