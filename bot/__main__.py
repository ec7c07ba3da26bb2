"""`python -m bot`: Banter on Discord (DISCORD_TOKEN set) or in the terminal (--console, or no token)."""

from bot.app import main

raise SystemExit(main())
