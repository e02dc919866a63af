"""Helpers shared by the chat front ends: message splitting, argument parsing, progress cadence."""
