"""keras_chargen.layers: see keras_chargen/__init__.py for the public names."""
