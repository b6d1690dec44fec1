"""``python -m prisme_video``: serve video-svc."""

from .app import main

if __name__ == "__main__":
    main()
