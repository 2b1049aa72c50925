"""Configuration per environment (development, testing, production), from CASEWORK_* variables."""

from config.settings import ConfigurationError, load_config

__all__ = ["ConfigurationError", "load_config"]
