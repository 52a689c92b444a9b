"""keras_chargen.metrics: see keras_chargen/__init__.py for the public names."""
