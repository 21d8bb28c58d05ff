"""Logging setup shared by uvicorn and the app, so every line has the same format."""

import copy
import logging.config
from typing import Any

from uvicorn.config import LOGGING_CONFIG


def build_logging_config(level: str) -> dict[str, Any]:
    """uvicorn's own config plus loggers for the app and Alembic, all to stderr."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["app"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    # Alembic's start-up chatter stays quiet; its "Running upgrade" lines are worth keeping
    config["loggers"]["alembic"] = {"handlers": ["default"], "level": "WARNING", "propagate": False}
    config["loggers"]["alembic.runtime.migration"] = {"level": "INFO"}
    return config


def configure_logging(level: str) -> None:
    logging.config.dictConfig(build_logging_config(level))
