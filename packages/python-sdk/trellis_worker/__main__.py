"""Entry point of ``python -m trellis_worker`` (see cli.py for the flags)."""

from .cli import main

if __name__ == "__main__":
    main()
