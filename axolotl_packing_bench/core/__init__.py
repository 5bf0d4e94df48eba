"""Low-level helpers shared by the plugin and the bench: files, environment, redaction.

Nothing here imports torch, Axolotl or any other heavy package, so both the
plugin (inside `axolotl train`) and the CLI (on the driver) can use it cheaply.
"""
