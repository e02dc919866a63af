"""The Slack front end: every musekit command as a slash command, with Bolt (docs/slack.md)."""
