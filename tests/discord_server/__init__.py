"""A local Discord-protocol server (REST + gateway over real sockets) for end-to-end tests of the bot."""

from .httputil import FaultRule, RateLimitRule, RequestRecord, UploadedFile
from .rest import CommandSync
from .rest_interactions import InteractionRecord
from .rest_messages import ReactionCall, SentMessage, TypingCall
from .server import DiscordTestServer
from .state import Channel, Guild, Member, Role, User

__all__ = [
    "DiscordTestServer",
    "InteractionRecord",
    "SentMessage",
    "TypingCall",
    "ReactionCall",
    "CommandSync",
    "RequestRecord",
    "RateLimitRule",
    "FaultRule",
    "UploadedFile",
    "Channel",
    "Guild",
    "Member",
    "Role",
    "User",
]
