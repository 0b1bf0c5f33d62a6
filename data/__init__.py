"""The bundled corpus, installed as the package data ``recipegen.bundled`` (recipegen/shipped.py)."""
