"""``python -m prisme_backup``: run backup-svc."""

from .app import main

if __name__ == "__main__":
    main()
