"""Renderers: verdicts and explanation graphs -> terminal text, JSON, DOT/GraphML, HTML and
Markdown reports. Reads what verdict/ and explain/ give; never re-derives a verdict or a proof."""
