"""keras_chargen.samplers: see keras_chargen/__init__.py for the public names."""
