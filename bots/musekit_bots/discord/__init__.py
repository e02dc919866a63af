"""musekit on Discord: every installed command as a native application command.

``musekit bot discord`` runs it; ``musekit bot discord sync`` publishes the commands
globally. See docs/discord.md.
"""
