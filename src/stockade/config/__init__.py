"""Configuration: one TOML file, validated all at once."""

from stockade.config.listen import ListenAddress, parse_listen
from stockade.config.load import Config, ProtectedDirectory, load_config

__all__ = ["Config", "ListenAddress", "ProtectedDirectory", "load_config", "parse_listen"]
