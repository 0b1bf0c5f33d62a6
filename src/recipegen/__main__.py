"""``python -m recipegen ...``: the same command as ``recipegen ...``."""

from recipegen.cli import main

if __name__ == "__main__":
    main()
