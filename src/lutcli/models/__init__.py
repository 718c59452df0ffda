"""The model zoo: color mappings built from learnable LUTs, their registry and their files."""

# A model file's extension (a name torch need not be loaded to know).
MODEL_SUFFIX = ".pt"
