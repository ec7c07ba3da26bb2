"""Banter's storage layer: messages, pairs, settings, privacy and training data (never imports discord)."""

from .audit import AuditRecord
from .config import LearningFilters, StorageConfig, load_config, resolve_url
from .errors import DatabaseLockedError, NotADatabaseError, StorageClosedError, StorageError
from .export import ExportCounts
from .facade import Storage
from .messages import LogResult, NotLogged
from .models import RunStatus
from .pairs import IncomingMessage, PairCandidate, PairKind, extract_pairs
from .settings import GuildSettings
from .text import USER_PLACEHOLDER, SkipReason
from .training import PairCounts, TrainingRunInfo

__all__ = [
    "AuditRecord",
    "DatabaseLockedError",
    "ExportCounts",
    "GuildSettings",
    "IncomingMessage",
    "LearningFilters",
    "LogResult",
    "NotADatabaseError",
    "NotLogged",
    "PairCandidate",
    "PairCounts",
    "PairKind",
    "RunStatus",
    "SkipReason",
    "Storage",
    "StorageClosedError",
    "StorageConfig",
    "StorageError",
    "TrainingRunInfo",
    "USER_PLACEHOLDER",
    "extract_pairs",
    "load_config",
    "resolve_url",
]
