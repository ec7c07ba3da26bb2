"""Chat: answering people in channels and DMs."""


async def setup(bot) -> None:
    from ._cog import ChatCog

    await bot.add_cog(ChatCog(bot))
