"""keras_chargen.plots: see keras_chargen/__init__.py for the public names."""
