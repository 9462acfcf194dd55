"""The light path: modules that never import TensorFlow, nor anything of the package above.

The TFLite runner (LiteRT), image and file I/O, style parsing, the names exports share, what
a model file holds, and locks: what `fastchi stylize` with a .tflite model and `fastchi
serve` need on the light install (requirements-lite.txt), and what the tools check before
TensorFlow's start of several seconds. tests/test_light.py imports all of it with
TensorFlow blocked; tests/test_imports.py keeps it from importing higher floors.
"""
