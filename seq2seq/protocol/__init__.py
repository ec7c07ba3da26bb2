"""What the bot and the worker share, standard library only: the HTTP/JSON types (wire), the config loader,
the blocklist matcher and the custom-emoji form of replies.

`from seq2seq.protocol import X` names the wire types; the loader is `seq2seq.protocol.config_file`, the
matcher `seq2seq.protocol.blocklist`, the emoji `seq2seq.protocol.emoji`.
"""

from .wire import (
    FINISHED_JOB_STATES,
    JOB_STATES,
    MAX_BATCH_ITEMS,
    MAX_JOB_BODY,
    MAX_JOB_JSON_BODY,
    MAX_REPLY_BODY,
    MAX_TURN_CHARS,
    MAX_TURNS,
    MIN_FINETUNE_PAIRS,
    VERSION_STATUSES,
    FinetuneOptions,
    JobInfo,
    ModelInfo,
    ReplyRequest,
    ReplyResult,
    clip,
    clip_names,
    error_body,
    loads_json,
    pair_from_json,
    parse_reply_body,
    validate_version,
)

__all__ = [
    "FINISHED_JOB_STATES",
    "JOB_STATES",
    "MAX_BATCH_ITEMS",
    "MAX_JOB_BODY",
    "MAX_JOB_JSON_BODY",
    "MAX_REPLY_BODY",
    "MAX_TURNS",
    "MAX_TURN_CHARS",
    "MIN_FINETUNE_PAIRS",
    "VERSION_STATUSES",
    "FinetuneOptions",
    "JobInfo",
    "ModelInfo",
    "ReplyRequest",
    "ReplyResult",
    "clip",
    "clip_names",
    "error_body",
    "loads_json",
    "pair_from_json",
    "parse_reply_body",
    "validate_version",
]
