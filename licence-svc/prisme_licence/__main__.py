"""``python -m prisme_licence``."""

from .app import main

if __name__ == "__main__":
    main()
