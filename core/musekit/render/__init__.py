"""Renderers: a result document as a platform shows it."""
