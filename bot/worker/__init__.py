"""Talking to the model worker over HTTP: the client, its health, and a worker process the bot starts itself."""

from .client import WorkerClient, WorkerError, WorkerUnavailable
from .health import WorkerHealth

__all__ = ["WorkerClient", "WorkerError", "WorkerHealth", "WorkerUnavailable"]
