"""The shipped looks, installed as the package ``lutcli.shipped_presets``.

This folder is the home of the looks that ship and of their definitions (``looks.json``); the
build maps it into the package (setup.py), and ``lutcli.presets`` reads it through
``importlib.resources``. ``make presets`` rebuilds it.
"""
