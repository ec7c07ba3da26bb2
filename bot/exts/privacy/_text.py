"""What Banter tells people about their data, in plain words (each sentence must stay true: see README)."""

_STORED = """\
**What Banter stores, and why**
• In the channels a server's admins chose for learning, Banter stores the messages people write there \
(text only, with mentions replaced by "@user"), who wrote them, when, and which message answered which. \
Pairs of a message and its answer are what the reply model learns from.
• It stores nothing from other channels or from direct messages; it reads them only to answer.
• Messages deleted or edited while Banter is online are deleted or updated in its store too \
(`/banter forget-me` reaches the rest). Links-only messages, commands and other bots' messages are never stored.
• Server settings (learning and reply channels, reply chance, cooldown) and a log of admin changes."""

_MODEL = """\
**What the model keeps**
• To fine-tune, Banter sends the model worker the text of the pairs, not who wrote them; the worker \
deletes that text when the job ends.
• The model learns words and word patterns from them and keeps them, since each fine-tune starts from the \
model before it. Its files hold no messages, user ids or message ids."""

_CHOICES = """\
**Your choices**
• `/banter optout`: deletes everything stored from you and stores nothing of yours again.
• `/banter optin`: lets Banter learn from you again (nothing deleted comes back).
• `/banter forget-me`: deletes everything stored from you, without opting out.
• `/banter my-data`: sends you everything stored about you, as a JSON file in a DM.
Deleting does not reach models already trained on your messages, nor a fine-tune already running: they \
keep what they learned until an admin retrains from scratch (`/banter retrain full`) and the older versions \
kept for rollback are replaced by newer ones."""

_LEAVE = "When Banter leaves a server, that server's messages are deleted."


def privacy_text(*, purge_on_guild_leave: bool) -> str:
    """The `/banter privacy` answer for this deployment ([storage] purge_on_guild_leave)."""
    return "\n\n".join([_STORED, _MODEL, _CHOICES + ("\n" + _LEAVE if purge_on_guild_leave else "")])
