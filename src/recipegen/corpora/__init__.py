"""Reading recipe corpora as their publishers write them, without TensorFlow.

``sources`` resolves what ``--data`` names (a file, a folder, a glob) into files; ``formats`` gives
each file its reader by extension (``tabular`` for CSV and TSV, ``jsonld`` for JSON documents,
``pages`` for saved web pages, ``markdown``, ``archives`` for the apps' zips); every reader only
finds records, and ``records`` turns each into a ``Recipe`` or a reason to skip it. ``report`` is
``recipegen data``: what would be read, before any training.
"""
