"""keras_chargen.data: see keras_chargen/__init__.py for the public names."""
