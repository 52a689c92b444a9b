"""keras_chargen.backend: see keras_chargen/__init__.py for the public names."""
