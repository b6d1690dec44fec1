"""The backup agent installed on the practice's server (``prisme-backup-agent``)."""
