"""Command-line interface: ``qornn <command>``; one module per command."""
