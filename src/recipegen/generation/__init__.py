"""Generation: from a trained model to recipes, one stage in five small modules.

``settings`` defines every decoding setting once (its default, range and help) and ``samples``
the plain data a generation takes and gives; ``samplers`` are pure functions over logits;
``steering`` shapes the logits so the directions use the foods a recipe names; ``loop`` steps the
trained cells a token at a time inside one compiled ``tf.while_loop``; ``generator`` reads
prompts and turns the loop's ids back into readable, parsed recipes.
"""
