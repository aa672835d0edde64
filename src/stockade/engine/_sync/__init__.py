# GENERATED from src/stockade/engine/_async/__init__.py by scripts/unasync.py; edit the source, not this file.
