"""The ``flashgen`` command line: thin argument parsing that calls the library."""
