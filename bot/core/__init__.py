"""The bot's behaviour in plain modules: fed by the Discord cogs and by the console alike."""
