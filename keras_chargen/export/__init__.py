"""Export: a step model with explicit state inputs and outputs.

`export_step_model` writes SavedModel, ONNX or LiteRT artifacts through
Keras' own `Model.export`; `driver.py` runs them with NumPy alone.
"""
