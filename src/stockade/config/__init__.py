"""Configuration: one TOML file, validated all at once."""

from stockade.config.load import Config, ProtectedDirectory, load_config

__all__ = ["Config", "ProtectedDirectory", "load_config"]
