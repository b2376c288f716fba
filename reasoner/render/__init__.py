"""Renderers: turn verdicts (and later explanation graphs) into text, JSON, HTML, Markdown."""
