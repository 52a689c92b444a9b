"""keras_chargen.generation: see keras_chargen/__init__.py for the public names."""
