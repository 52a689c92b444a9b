"""keras_chargen.training: see keras_chargen/__init__.py for the public names."""
