"""``python -m recipegen ...``: the same command as ``recipegen ...``."""

from recipegen.entry import main

if __name__ == "__main__":
    main()
