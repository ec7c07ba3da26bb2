"""Banter's features as discord.py extensions: chat, learning, admin and privacy."""
