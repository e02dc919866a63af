"""musekit's chat front ends (Discord, Slack): thin adapters over the runner."""
