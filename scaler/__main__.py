"""``python -m scaler``: the same command line as the ``scaler`` script."""

from scaler.cli.main import main

if __name__ == "__main__":
    main()
