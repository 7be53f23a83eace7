"""nanogpt-tui: the Textual workbench and the command line. torch never loads in this package."""
