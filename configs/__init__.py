"""The configs shipped with recipegen, installed as the package data ``recipegen.configs`` (recipegen/shipped.py)."""
