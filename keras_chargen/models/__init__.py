"""keras_chargen.models: see keras_chargen/__init__.py for the public names."""
