"""Configuration: one TOML file, validated all at once."""

from stockade.config.load import Config, ProtectedDirectory, load_config
from stockade.server.listen import ListenAddress, parse_listen

__all__ = ["Config", "ListenAddress", "ProtectedDirectory", "load_config", "parse_listen"]
