"""What Banter tells people about their data, in plain words."""

PRIVACY = """\
**What Banter stores, and why**
• In the channels a server's admins chose for learning, Banter stores the messages people write there \
(text only, with mentions replaced by "@user"), who wrote them, when, and which message answered which. \
Pairs of a message and its answer are what the reply model learns from.
• It stores nothing from other channels or from direct messages; it reads them only to answer.
• Deleted or edited messages are deleted or updated in its store too. Links-only messages, commands \
and other bots' messages are never stored.
• Server settings (learning and reply channels, reply chance, cooldown) and a log of admin changes.
• The model learns word patterns from the pairs; its files contain no user ids or message ids.

**Your choices**
• `/banter optout`: deletes everything stored from you and stores nothing of yours again.
• `/banter optin`: lets Banter learn from you again (nothing deleted comes back).
• `/banter forget-me`: deletes everything stored from you, without opting out.
• `/banter my-data`: sends you everything stored about you, as a JSON file in a DM.
A model already trained keeps what it learned until its next training without your messages.
When Banter leaves a server, that server's messages are deleted."""
