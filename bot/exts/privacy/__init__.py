"""Privacy: opting out and in, being forgotten, getting one's data, and what is stored."""


async def setup(bot) -> None:
    from ._cog import PrivacyCog

    await bot.add_cog(PrivacyCog(bot))
