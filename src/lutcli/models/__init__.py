"""The model zoo: color mappings built from learnable LUTs, their registry and their files."""
