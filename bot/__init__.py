"""Banter's Discord side: the bot process, its cogs and its storage."""
