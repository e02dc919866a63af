"""musekit's built-in plugins. Each registers through the ``musekit.plugins`` entry
points, exactly like a third-party plugin."""
