"""Learning: edits and deletes applied, history imported, and the shared model fine-tuned."""


async def setup(bot) -> None:
    from ._cog import LearningCog

    await bot.add_cog(LearningCog(bot))
