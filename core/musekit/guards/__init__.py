"""Guard rails every front end applies through the service: permissions, limits, hygiene.

See docs/guard-rails.md.
"""
