"""The ``lutcli`` command line: one module per subcommand, over the library."""
