"""The ``musekit`` command line."""
