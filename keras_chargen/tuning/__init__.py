"""keras_chargen.tuning: see keras_chargen/__init__.py for the public names."""
