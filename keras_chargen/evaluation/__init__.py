"""keras_chargen.evaluation: see keras_chargen/__init__.py for the public names."""
