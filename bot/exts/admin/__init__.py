"""Admin: where Banter learns and answers in a server, and the shared model's versions and health."""


async def setup(bot) -> None:
    from ._cog import AdminCog

    await bot.add_cog(AdminCog(bot))
