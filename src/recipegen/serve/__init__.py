"""``recipegen serve``: one run's decoder behind an HTTP API and a page (the ``serve`` extra).

batcher (one thread decodes every request, many to a batch) ▸ schema (what a client may send)
▸ completions (OpenAI-style text, stops and streamed pieces) ▸ app (routes, errors, key, limits)
▸ server (load, trace, bind, serve, drain). Only ``app`` and ``server`` import the HTTP libraries.
"""
