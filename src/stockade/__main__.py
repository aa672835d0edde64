"""``python -m stockade``: the ``stockade`` command without the installed script."""

from stockade.cli.main import main

if __name__ == "__main__":
    main()
