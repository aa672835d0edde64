# GENERATED from src/stockade/stores/_async/__init__.py by scripts/unasync.py; edit the source, not this file.
